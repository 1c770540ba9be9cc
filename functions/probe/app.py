"""Probe: one HTTP attempt of one route, checked against its expectations. Needs no AWS API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.observability import logger
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.secrets import LazyAwsSecretResolver
from tollgate_core.settings import ProbeSettings

SETTINGS = ProbeSettings.from_env()
SECRETS = LazyAwsSecretResolver()  # values cached for the life of this container


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = probe_attempt(ProbeRequest.from_event(event), SETTINGS.body_cap_bytes, secrets=SECRETS)
    logger.info("probe attempt", extra={"result": result})
    return result
