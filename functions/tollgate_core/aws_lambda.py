"""The AWS FunctionInvoker: one synchronous Lambda Invoke per attempt, timed, with every failure an InvocationFailed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from tollgate_core.function_invocation import INVOKE_CONNECT_TIMEOUT_SECONDS, FunctionResponse, InvocationFailed

FAILED = "Lambda Invoke failed"

ClientFactory = Callable[[Config], Any]


def client_config(timeout_seconds: float) -> Config:
    """How a client waits: connecting is bounded apart, the answer for the route's `invoke.timeoutSeconds`.

    One attempt is one call: the SDK's own retries would invoke the function again unseen and, after a read timeout,
    wait past the probe function's timeout. The workflow retries instead, by the route's policy, in the history.
    """
    return Config(
        connect_timeout=INVOKE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


class LambdaFunctionInvoker:
    """Invokes through one Lambda client per timeout, made at its first use and kept for the container's life.

    A client's read timeout is fixed when it is made, and a suite's routes use few distinct timeouts. Made at first
    use, not at import, so that a client that cannot be made (no region) fails the attempt, not the Lambda.
    """

    def __init__(self, make_client: ClientFactory) -> None:
        self._make_client = make_client
        self._clients: dict[float, Any] = {}

    def invoke(self, function: str, payload: bytes, timeout_seconds: float) -> FunctionResponse:
        try:
            return self._invoke(function, payload, timeout_seconds)
        except ReadTimeoutError:
            raise InvocationFailed(f"no answer from the function within {timeout_seconds:g} s") from None
        except ConnectTimeoutError:
            raise InvocationFailed(f"{FAILED}: connect timeout after {INVOKE_CONNECT_TIMEOUT_SECONDS} s") from None
        except ClientError as error:
            raise InvocationFailed(f"{FAILED}: {_error_code_and_message(error)}") from None
        except BotoCoreError as error:
            raise InvocationFailed(f"{FAILED}: {type(error).__name__}: {error}") from None

    def _invoke(self, function: str, payload: bytes, timeout_seconds: float) -> FunctionResponse:
        client = self._client(timeout_seconds)
        started = time.perf_counter()
        answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
        body: bytes = answer["Payload"].read()
        return FunctionResponse(
            status_code=answer["StatusCode"],
            payload=body,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            function_error=answer.get("FunctionError"),
        )

    def _client(self, timeout_seconds: float) -> Any:
        if timeout_seconds not in self._clients:
            self._clients[timeout_seconds] = self._make_client(client_config(timeout_seconds))
        return self._clients[timeout_seconds]


def aws_function_invoker() -> LambdaFunctionInvoker:
    """An invoker whose clients take region, credentials and `AWS_ENDPOINT_URL` from the environment."""
    session = boto3.session.Session()
    return LambdaFunctionInvoker(lambda config: session.client("lambda", config=config))


def _error_code_and_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code, message = details.get("Code") or "ClientError", details.get("Message")
    return f"{code}: {message}" if message else code
