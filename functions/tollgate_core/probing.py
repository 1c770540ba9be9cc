"""One probe attempt: request, check, and decide whether the workflow should try again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tollgate_core.backoff import jittered_delay_seconds
from tollgate_core.expectations import failed_expectations, join_reasons
from tollgate_core.http_attempt import RequestFailed, build_request, send
from tollgate_core.secrets import SecretResolver, SecretUnavailable
from tollgate_core.settings import DEFAULT_BODY_CAP_BYTES


@dataclass(frozen=True)
class ProbeRequest:
    """What the workflow asks of the probe: one attempt of one route in one round."""

    stage: str
    route: dict[str, Any]
    target: dict[str, Any]
    round: int
    attempt: int

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ProbeRequest:
        """From the Map iteration's state: the previous attempt's result counts the attempts made so far."""
        return cls(
            stage=str(event["stage"]),
            route=event["route"],
            target=event["target"],
            round=int(event["round"]),
            attempt=int(event["probe"]["result"]["attempts"]) + 1,
        )


def probe_attempt(
    request: ProbeRequest,
    body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    rng: random.Random | None = None,
    secrets: SecretResolver | None = None,
) -> dict[str, Any]:
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
