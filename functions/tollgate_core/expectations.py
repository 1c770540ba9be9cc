"""Checks of one HTTP response, or one function's response payload, against a route's expectations; each failed
check gives a reason."""

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


def failed_expectations(expect: Expectations, response: HttpResponse) -> list[str]:
    """Reasons for every expectation the response does not meet; empty when it meets them all."""
    content = _Content("body", response.body, response.truncated)
    reasons = [
        _status_reason(expect["status"], response.status_code),
        *_text_reasons(expect, content),
        _latency_reason(expect.get("maxLatencyMs"), response.latency_ms),
    ]
    reasons += _header_reasons(expect.get("headers", {}), response.headers)
    reasons += _json_reasons(expect.get("json", {}), content)
    return [reason for reason in reasons if reason]


def failed_payload_expectations(expect: Expectations, payload: bytes, latency_ms: float) -> list[str]:
    """Reasons for every expectation a function's response payload does not meet: it is judged as a body is.

    A payload has no status and no headers: an invoke route's `expect` judges its text, its JSON and the latency.
    """
    content = _Content("payload", payload)
    reasons = [*_text_reasons(expect, content), _latency_reason(expect.get("maxLatencyMs"), latency_ms)]
    reasons += _json_reasons(expect.get("json", {}), content)
    return [reason for reason in reasons if reason]


@dataclass(frozen=True)
class _Content:
    """What the text and JSON expectations read, and the word their reasons call it by."""

    name: str  # "body" or "payload"
    data: bytes
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def truncation_note(self) -> str:
        return f" ({self.name} truncated at the read cap)" if self.truncated else ""


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


def _text_reasons(expect: Expectations, content: _Content) -> list[str | None]:
    return [
        _contains_reason(expect.get("bodyContains"), content),
        _matches_reason(expect.get("bodyMatches"), content),
    ]


def _contains_reason(needle: str | None, content: _Content) -> str | None:
    if needle is None or needle in content.text:
        return None
    return f"{content.name} does not contain {short_value(needle)}{content.truncation_note}"


def _matches_reason(pattern: str | None, content: _Content) -> str | None:
    if pattern is None or re.search(pattern, content.text):
        return None
    return f"{content.name} does not match /{short_value(pattern, quote=False)}/{content.truncation_note}"


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
            reasons.append(f"header {name} is {short_value(value)}, expected to contain {short_value(substring)}")
    return reasons


def _json_reasons(expected: dict[str, Any], content: _Content) -> list[str]:
    if not expected:
        return []
    try:
        document = json.loads(content.data)
    except ValueError:
        return [f"{content.name} is not JSON{content.truncation_note}"]
    from jsonpath_ng.ext import parse as parse_jsonpath  # type: ignore[attr-defined] # only routes with JSON checks pay its import

    reasons = []
    for expression, value in expected.items():
        found = [match.value for match in parse_jsonpath(expression).find(document)]
        if not found:
            reasons.append(f"{expression} not found")
        elif value not in found:
            actual = found[0] if len(found) == 1 else found
            reasons.append(f"{expression} is {short_value(actual)}, expected {short_value(value)}")
    return reasons


def short_value(value: Any, quote: bool = True) -> str:
    """A value as JSON (or as it is, unquoted), cut to fit a reason."""
    text = json.dumps(value) if quote else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def join_reasons(reasons: list[str]) -> str | None:
    """One bounded reason string, so results stay small as they flow between states."""
    if not reasons:
        return None
    joined = "; ".join(reasons)
    return joined if len(joined) <= MAX_REASON_CHARS else joined[: MAX_REASON_CHARS - 3] + "..."
