"""One probe attempt: request or invoke, check, and decide whether the workflow should try again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tollgate_core.backoff import jittered_delay_seconds
from tollgate_core.contracts import ProbeResult, Route, Target
from tollgate_core.event_fields import MalformedEvent, check_fields, field_of, object_of, typed_field
from tollgate_core.expectations import failed_expectations, join_reasons
from tollgate_core.function_invocation import (
    FunctionInvoker,
    InvocationFailed,
    failed_invocation_expectations,
    invocation_payload,
    invoke_timeout_seconds,
)
from tollgate_core.http_attempt import RequestFailed, build_request, send
from tollgate_core.secrets import SecretResolver, SecretUnavailable
from tollgate_core.settings import DEFAULT_BODY_CAP_BYTES


@dataclass(frozen=True)
class ProbeRequest:
    """What the workflow asks of the probe: one attempt of one route in one round."""

    stage: str
    route: Route
    target: Target
    round: int
    attempt: int

    @classmethod
    def from_event(cls, event: Any) -> ProbeRequest:
        """From the Map iteration's state: the previous attempt's result counts the attempts made so far."""
        document = object_of(event, "(event)")
        probe = object_of(field_of(document, "probe"), "probe")
        previous = object_of(field_of(probe, "result", "probe."), "probe.result")
        return cls(
            stage=typed_field(document, "stage", str),
            route=_route(field_of(document, "route")),
            target=_target(field_of(document, "target")),
            round=typed_field(document, "round", int),
            attempt=typed_field(previous, "attempts", int, "probe.result.") + 1,
        )


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt measured, and why it failed; no status code or latency when nothing answered."""

    status_code: int | None
    latency_ms: float | None
    reasons: list[str]


def probe_event(
    event: Any,
    body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    secrets: SecretResolver | None = None,
    functions: FunctionInvoker | None = None,
) -> ProbeResult:
    """The probe function's answer to any event: an attempt's result, or a failed final one naming the bad field."""
    try:
        request = ProbeRequest.from_event(event)
    except MalformedEvent as malformed:
        return malformed_event_result(event, str(malformed))
    return probe_attempt(request, body_cap_bytes, secrets=secrets, functions=functions)


def probe_attempt(
    request: ProbeRequest,
    body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    rng: random.Random | None = None,
    secrets: SecretResolver | None = None,
    functions: FunctionInvoker | None = None,
) -> ProbeResult:
    """Run one attempt and return the compact result the workflow carries.

    `final` tells the workflow to stop retrying: the attempt passed or it was the route's last.
    """
    if "invoke" in request.route:
        outcome = _invocation_outcome(request.route, functions)
    else:
        outcome = _http_outcome(request.route, request.target, body_cap_bytes, secrets)
    reasons = outcome.reasons
    ok = not reasons
    retry = request.route["retry"]
    final = ok or request.attempt >= retry["maxAttempts"]
    return {
        "stage": request.stage,
        "route": request.route["name"],
        "round": request.round,
        "attempts": request.attempt,
        "ok": ok,
        "statusCode": outcome.status_code,
        "latencyMs": outcome.latency_ms,
        "reason": join_reasons(reasons),
        "final": final,
        "retryInSeconds": 0 if final else jittered_delay_seconds(retry, request.attempt, rng),
    }


def _http_outcome(
    route: Route, target: Target, body_cap_bytes: int, secrets: SecretResolver | None = None
) -> AttemptOutcome:
    """Send the route's request to the target and judge the response."""
    try:
        response = send(build_request(route, target, secrets), body_cap_bytes)
    except (RequestFailed, SecretUnavailable) as failure:
        return AttemptOutcome(None, None, [str(failure)])
    return AttemptOutcome(response.status_code, response.latency_ms, failed_expectations(route["expect"], response))


def _invocation_outcome(route: Route, functions: FunctionInvoker | None) -> AttemptOutcome:
    """Invoke the route's function and judge its answer; a function error fails whatever `expect` says."""
    invocation = route["invoke"]
    if functions is None:
        return AttemptOutcome(None, None, [f"no function invoker for {invocation['function']}"])
    try:
        response = functions.invoke(
            invocation["function"], invocation_payload(invocation), invoke_timeout_seconds(invocation)
        )
    except InvocationFailed as failure:
        return AttemptOutcome(None, None, [str(failure)])
    reasons = failed_invocation_expectations(route["expect"], response)
    return AttemptOutcome(response.status_code, response.latency_ms, reasons)


def malformed_event_result(event: Any, problem: str) -> ProbeResult:
    """A failed, final probe: retrying the same event cannot help. Names what it can read of the event."""
    document = event if isinstance(event, dict) else {}
    route = document.get("route")
    return {
        "stage": str(document.get("stage", "?")),
        "route": str(route.get("name", "?")) if isinstance(route, dict) else "?",
        "round": document["round"] if isinstance(document.get("round"), int) else 0,
        "attempts": 1,
        "ok": False,
        "statusCode": None,
        "latencyMs": None,
        "reason": join_reasons([f"malformed probe event: {problem}"]),
        "final": True,
        "retryInSeconds": 0,
    }


# The fields the probe reads, by the type it needs; the suite's validation guarantees the rest.
_ROUTE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "retry": dict,
    "expect": dict,
}
_HTTP_ROUTE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "path": str,
    "method": str,
    "headers": dict,
    "followRedirects": bool,
}
_INVOKE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "function": str,  # absent only if the hook did not fill it in: then no attempt can be made
    "timeoutSeconds": (int, float),
}
_RETRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "maxAttempts": int,
    "intervalSeconds": (int, float),
    "backoffRate": (int, float),
}
_TARGET_FIELDS: dict[str, type | tuple[type, ...]] = {
    "baseUrl": str,
    "headers": dict,
    "timeoutSeconds": (int, float),
    "verifyTls": bool,
}


def _route(value: Any) -> Route:
    route = object_of(value, "route")
    check_fields(route, _ROUTE_FIELDS, "route.")
    check_fields(route["retry"], _RETRY_FIELDS, "route.retry.")
    if "invoke" in route:
        _check_invocation(route["invoke"])
    else:
        _check_http_fields(route)
    checked: Route = route  # type: ignore[assignment] # its fields were checked above
    return checked


def _check_http_fields(route: dict[str, Any]) -> None:
    check_fields(route, _HTTP_ROUTE_FIELDS, "route.")
    field_of(route, "body", "route.")  # any JSON value, null included
    if not isinstance(route["expect"].get("status"), list):
        raise MalformedEvent("route.expect.status: missing or not a list")


def _check_invocation(value: Any) -> None:
    invocation = object_of(value, "route.invoke")
    check_fields(invocation, _INVOKE_FIELDS, "route.invoke.")
    field_of(invocation, "payload", "route.invoke.")  # any JSON value, null included


def _target(value: Any) -> Target:
    target = object_of(value, "target")
    check_fields(target, _TARGET_FIELDS, "target.")
    checked: Target = target  # type: ignore[assignment] # its fields were checked above
    return checked
