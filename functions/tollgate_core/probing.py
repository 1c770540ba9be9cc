"""One probe attempt: request, check, and decide whether the workflow should try again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tollgate_core.backoff import jittered_delay_seconds
from tollgate_core.contracts import ProbeResult, Route, Target
from tollgate_core.event_fields import MalformedEvent, check_fields, field_of, object_of, typed_field
from tollgate_core.expectations import failed_expectations, join_reasons
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


def probe_event(
    event: Any, body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES, secrets: SecretResolver | None = None
) -> ProbeResult:
    """The probe function's answer to any event: an attempt's result, or a failed final one naming the bad field."""
    try:
        request = ProbeRequest.from_event(event)
    except MalformedEvent as malformed:
        return malformed_event_result(event, str(malformed))
    return probe_attempt(request, body_cap_bytes, secrets=secrets)


def probe_attempt(
    request: ProbeRequest,
    body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    rng: random.Random | None = None,
    secrets: SecretResolver | None = None,
) -> ProbeResult:
    """Run one attempt and return the compact result the workflow carries.

    `final` tells the workflow to stop retrying: the attempt passed or it was the route's last.
    """
    status_code: int | None = None
    latency_ms: float | None = None
    try:
        response = send(build_request(request.route, request.target, secrets), body_cap_bytes)
        status_code, latency_ms = response.status_code, response.latency_ms
        reasons = failed_expectations(request.route["expect"], response)
    except (RequestFailed, SecretUnavailable) as failure:
        reasons = [str(failure)]
    ok = not reasons
    retry = request.route["retry"]
    final = ok or request.attempt >= retry["maxAttempts"]
    return {
        "stage": request.stage,
        "route": request.route["name"],
        "round": request.round,
        "attempts": request.attempt,
        "ok": ok,
        "statusCode": status_code,
        "latencyMs": latency_ms,
        "reason": join_reasons(reasons),
        "final": final,
        "retryInSeconds": 0 if final else jittered_delay_seconds(retry, request.attempt, rng),
    }


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
    "path": str,
    "method": str,
    "headers": dict,
    "followRedirects": bool,
    "retry": dict,
    "expect": dict,
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
    field_of(route, "body", "route.")  # any JSON value, null included
    check_fields(route["retry"], _RETRY_FIELDS, "route.retry.")
    if not isinstance(route["expect"].get("status"), list):
        raise MalformedEvent("route.expect.status: missing or not a list")
    checked: Route = route  # type: ignore[assignment] # its fields were checked above
    return checked


def _target(value: Any) -> Target:
    target = object_of(value, "target")
    check_fields(target, _TARGET_FIELDS, "target.")
    checked: Target = target  # type: ignore[assignment] # its fields were checked above
    return checked
