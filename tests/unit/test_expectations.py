from __future__ import annotations

from typing import Any, cast

import pytest
from requests.structures import CaseInsensitiveDict

from tollgate_core.contracts import Expectations
from tollgate_core.expectations import HttpResponse, failed_expectations, join_reasons


def response(
    status: int = 200, body: bytes = b'{"status": "ok", "items": [1, 2]}', headers: dict[str, str] | None = None
) -> HttpResponse:
    return HttpResponse(status, CaseInsensitiveDict(headers or {}), body, latency_ms=12.0)


def reasons(expect: dict[str, Any], answer: HttpResponse | None = None) -> list[str]:
    return failed_expectations(cast(Expectations, {"status": ["2xx"], **expect}), answer or response())


@pytest.mark.parametrize(
    ("patterns", "status", "ok"),
    [
        (["2xx"], 204, True),
        (["2xx"], 301, False),
        ([200, 204], 204, True),
        ([200], 201, False),
        (["2xx", 304], 304, True),
    ],
)
def test_status_classes_and_codes(patterns: list[str | int], status: int, ok: bool) -> None:
    assert (reasons({"status": patterns}, response(status)) == []) is ok


def test_status_reason_names_what_was_expected() -> None:
    assert reasons({"status": [200, "3xx"]}, response(500)) == ["status 500, expected 200, 3xx"]


def test_body_contains_and_matches() -> None:
    assert reasons({"bodyContains": '"ok"', "bodyMatches": r"items.*\[1"}) == []
    assert reasons({"bodyContains": "healthy"}) == ['body does not contain "healthy"']
    assert reasons({"bodyMatches": "^ok"}) == ["body does not match /^ok/"]


def test_json_values_by_jsonpath() -> None:
    assert reasons({"json": {"$.status": "ok", "$.items[1]": 2}}) == []
    assert reasons({"json": {"$.status": "degraded"}}) == ['$.status is "ok", expected "degraded"']
    assert reasons({"json": {"$.missing": 1}}) == ["$.missing not found"]
    assert reasons({"json": {"$.status": "ok"}}, response(body=b"<html>")) == ["body is not JSON"]


def test_header_substrings_are_case_insensitive_by_name() -> None:
    answer = response(headers={"Content-Type": "application/json; charset=utf-8"})

    assert reasons({"headers": {"content-type": "application/json"}}, answer) == []
    assert reasons({"headers": {"Content-Type": "text/html"}}, answer) == [
        'header Content-Type is "application/json; charset=utf-8", expected to contain "text/html"'
    ]
    assert reasons({"headers": {"X-Version": "2"}}, answer) == ["header X-Version missing"]


def test_latency_limit() -> None:
    assert reasons({"maxLatencyMs": 50}) == []
    assert reasons({"maxLatencyMs": 5}) == ["latency 12 ms over 5 ms"]


def test_every_failed_expectation_is_named() -> None:
    failures = reasons({"status": [200], "bodyContains": "nope", "maxLatencyMs": 1}, response(500))

    assert len(failures) == 3


def test_a_truncated_body_says_so() -> None:
    answer = HttpResponse(200, CaseInsensitiveDict(), b"xxxx", latency_ms=1.0, truncated=True)

    assert reasons({"bodyContains": "end"}, answer) == ['body does not contain "end" (body truncated at the read cap)']


def test_joined_reasons_stay_bounded() -> None:
    assert join_reasons([]) is None
    joined = join_reasons(["x" * 100, "y" * 100])
    assert joined is not None
    assert len(joined) == 160
    assert joined.endswith("...")
