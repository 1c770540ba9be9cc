"""Checks of one HTTP response against a route's expectations; each failed check gives a reason."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tollgate_core.contracts import Expectations, StatusPattern

MAX_REASON_CHARS = 160


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive, as requests gives them
    body: bytes
    latency_ms: float
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def failed_expectations(expect: Expectations, response: HttpResponse) -> list[str]:
    """Reasons for every expectation the response does not meet; empty when it meets them all."""
    reasons = [
        _status_reason(expect["status"], response.status_code),
        _body_contains_reason(expect.get("bodyContains"), response),
        _body_matches_reason(expect.get("bodyMatches"), response),
        _latency_reason(expect.get("maxLatencyMs"), response.latency_ms),
    ]
    reasons += _header_reasons(expect.get("headers", {}), response.headers)
    reasons += _json_reasons(expect.get("json", {}), response)
    return [reason for reason in reasons if reason]


def status_matches(patterns: list[StatusPattern], status_code: int) -> bool:
    for pattern in patterns:
        if isinstance(pattern, int) and pattern == status_code:
            return True
        if isinstance(pattern, str) and str(status_code)[0] == pattern[0]:
            return True
    return False


def _status_reason(patterns: list[StatusPattern], status_code: int) -> str | None:
    if status_matches(patterns, status_code):
        return None
    expected = ", ".join(str(pattern) for pattern in patterns)
    return f"status {status_code}, expected {expected}"


def _body_contains_reason(needle: str | None, response: HttpResponse) -> str | None:
    if needle is None or needle in response.text:
        return None
    return f"body does not contain {_short(needle)}{_truncation_note(response)}"


def _body_matches_reason(pattern: str | None, response: HttpResponse) -> str | None:
    if pattern is None or re.search(pattern, response.text):
        return None
    return f"body does not match /{_short(pattern, quote=False)}/{_truncation_note(response)}"


def _latency_reason(max_latency_ms: float | None, latency_ms: float) -> str | None:
    if max_latency_ms is None or latency_ms <= max_latency_ms:
        return None
    return f"latency {latency_ms:.0f} ms over {max_latency_ms:g} ms"


def _header_reasons(expected: dict[str, str], headers: Mapping[str, str]) -> list[str]:
    reasons = []
    for name, substring in expected.items():
        value = headers.get(name)
        if value is None:
            reasons.append(f"header {name} missing")
        elif substring not in value:
            reasons.append(f"header {name} is {_short(value)}, expected to contain {_short(substring)}")
    return reasons


def _json_reasons(expected: dict[str, Any], response: HttpResponse) -> list[str]:
    if not expected:
        return []
    try:
        document = json.loads(response.body)
    except ValueError:
        return [f"body is not JSON{_truncation_note(response)}"]
    from jsonpath_ng.ext import parse as parse_jsonpath  # type: ignore[attr-defined] # only routes with JSON checks pay its import

    reasons = []
    for expression, value in expected.items():
        found = [match.value for match in parse_jsonpath(expression).find(document)]
        if not found:
            reasons.append(f"{expression} not found")
        elif value not in found:
            actual = found[0] if len(found) == 1 else found
            reasons.append(f"{expression} is {_short(actual)}, expected {_short(value)}")
    return reasons


def _truncation_note(response: HttpResponse) -> str:
    return " (body truncated at the read cap)" if response.truncated else ""


def _short(value: Any, quote: bool = True) -> str:
    text = json.dumps(value) if quote else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def join_reasons(reasons: list[str]) -> str | None:
    """One bounded reason string, so results stay small as they flow between states."""
    if not reasons:
        return None
    joined = "; ".join(reasons)
    return joined if len(joined) <= MAX_REASON_CHARS else joined[: MAX_REASON_CHARS - 3] + "..."
