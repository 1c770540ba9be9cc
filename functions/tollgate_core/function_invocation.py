"""An invoke route's attempt: the payload it sends, and its function's answer judged against the route's `expect`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from tollgate_core.contracts import Expectations, FunctionInvocation
from tollgate_core.expectations import failed_payload_expectations, short_value

DEFAULT_INVOKE_TIMEOUT_SECONDS = 30
# Connecting to Lambda's endpoint is bounded apart from the wait for the answer; an attempt takes at most both.
INVOKE_CONNECT_TIMEOUT_SECONDS = 5


class InvocationFailed(Exception):
    """The function could not be invoked or gave no answer (an API error, a timeout); the message says which."""


@dataclass(frozen=True)
class FunctionResponse:
    """What a synchronous Invoke returned: Lambda's status code, the response payload, how long the call took."""

    status_code: int
    payload: bytes
    latency_ms: float
    function_error: str | None = None  # "Handled" or "Unhandled" when the function raised; the payload says what


class FunctionInvoker(Protocol):
    """Invokes a function synchronously; raises InvocationFailed when there is no answer. Adapters implement it."""

    def invoke(self, function: str, payload: bytes, timeout_seconds: float) -> FunctionResponse: ...


def invocation_payload(invocation: FunctionInvocation) -> bytes:
    return json.dumps(invocation["payload"]).encode("utf-8")


def invoke_timeout_seconds(invocation: FunctionInvocation) -> float:
    """How long the probe waits for the function's answer."""
    return float(invocation["timeoutSeconds"])


def failed_invocation_expectations(expect: Expectations, response: FunctionResponse) -> list[str]:
    """Reasons the answer fails: a function error whatever `expect` says, otherwise each unmet expectation."""
    if response.function_error is not None:
        return [function_error_reason(response.function_error, response.payload)]
    return failed_payload_expectations(expect, response.payload, response.latency_ms)


def function_error_reason(kind: str, payload: bytes) -> str:
    """`function error (Unhandled): ValueError: bad input`, from the error document Lambda's runtimes return."""
    error = _error_document(payload)
    error_type, message = error.get("errorType"), error.get("errorMessage")
    if isinstance(error_type, str) and isinstance(message, str):
        return f"function error ({kind}): {error_type}: {message}"
    if isinstance(message, str):
        return f"function error ({kind}): {message}"
    return f"function error ({kind}): {short_value(payload.decode('utf-8', errors='replace'))}"


def _error_document(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(payload)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
