"""Probe: one HTTP attempt of one route, checked against its expectations; AWS is read only for secret headers."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.contracts import ProbeResult
from tollgate_core.observability import logger
from tollgate_core.probing import probe_event
from tollgate_core.secrets import SecretResolver
from tollgate_core.settings import ProbeSettings

SETTINGS = ProbeSettings.from_env()


@cache
def _aws_secret_resolver() -> SecretResolver:
    # Imported here, not at the top: the adapter loads boto3, which only probes with secret headers need.
    from tollgate_core.aws_secrets import aws_secret_resolver

    return aws_secret_resolver()


class SecretsOnFirstUse:
    """The AWS secret resolver, created at the first reference and kept, with its cache, for the container."""

    def resolve(self, reference: dict[str, str]) -> str:
        return _aws_secret_resolver().resolve(reference)


SECRETS = SecretsOnFirstUse()


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> ProbeResult:
    result = probe_event(event, SETTINGS.body_cap_bytes, secrets=SECRETS)
    logger.info("probe attempt", extra={"result": result})
    return result
