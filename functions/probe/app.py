"""Probe: one attempt of one route — an HTTP request, or a Lambda invocation — checked against its expectations.

AWS is reached only for what a route needs: a secret header's value, or the function an invoke route calls.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.contracts import ProbeResult
from tollgate_core.function_invocation import FunctionInvoker, FunctionResponse
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


@cache
def _aws_function_invoker() -> FunctionInvoker:
    # Imported here, not at the top: the adapter loads boto3, which only invoke routes need.
    from tollgate_core.aws_lambda import aws_function_invoker

    return aws_function_invoker()


class SecretsOnFirstUse:
    """The AWS secret resolver, created at the first reference and kept, with its cache, for the container."""

    def resolve(self, reference: dict[str, str]) -> str:
        return _aws_secret_resolver().resolve(reference)


class FunctionsOnFirstUse:
    """The AWS function invoker, created at the first invoke route and kept, with its clients, for the container."""

    def invoke(self, function: str, payload: bytes, timeout_seconds: float) -> FunctionResponse:
        return _aws_function_invoker().invoke(function, payload, timeout_seconds)


SECRETS = SecretsOnFirstUse()
FUNCTIONS = FunctionsOnFirstUse()


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> ProbeResult:
    result = probe_event(event, SETTINGS.body_cap_bytes, secrets=SECRETS, functions=FUNCTIONS)
    logger.info("probe attempt", extra={"result": result})
    return result
