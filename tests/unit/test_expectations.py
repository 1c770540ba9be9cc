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


CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"]
CODES = [100, 199, 200, 204, 299, 300, 304, 399, 400, 404, 499, 500, 503, 599]


@pytest.mark.parametrize("status_class", CLASSES)
@pytest.mark.parametrize("status", CODES)
def test_a_status_class_accepts_its_own_codes_and_no_other(status_class: str, status: int) -> None:
    # Given a route expecting one status class, When it answers with a code from any class
    failures = reasons({"status": [status_class]}, response(status))

    # Then it passes exactly when the code is of that class
    assert (failures == []) is (str(status)[0] == status_class[0])


def test_status_reason_names_what_was_expected() -> None:
    assert reasons({"status": [200, "3xx"]}, response(500)) == ["status 500, expected 200, 3xx"]


def test_body_contains_and_matches() -> None:
    assert reasons({"bodyContains": '"ok"', "bodyMatches": r"items.*\[1"}) == []
    assert reasons({"bodyContains": "healthy"}) == ['body does not contain "healthy"']
    assert reasons({"bodyMatches": "^ok"}) == ["body does not match /^ok/"]


@pytest.mark.parametrize(
    ("needle", "found"),
    [("Healthy", True), ("healthy", False), ("HEALTHY", False), ("Healthy ", False), ("althy", True)],
)
def test_body_contains_is_a_case_sensitive_substring(needle: str, found: bool) -> None:
    # Given a body saying "Healthy", When a route expects it to contain needle
    failures = reasons({"bodyContains": needle}, response(body=b"status: Healthy"))

    # Then only the exact characters, in the same case, are found
    assert failures == ([] if found else [f'body does not contain "{needle}"'])


def test_body_matches_is_searched_anywhere_and_case_sensitive() -> None:
    answer = response(body=b"status: Healthy\nversion: 2")

    assert reasons({"bodyMatches": r"version: \d"}, answer) == []
    assert reasons({"bodyMatches": "healthy"}, answer) == ["body does not match /healthy/"]
    assert reasons({"bodyMatches": "(?i)healthy"}, answer) == []


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


@pytest.mark.parametrize(
    ("latency_ms", "failure"),
    [
        (1.0, None),
        (499.9, None),
        (500.0, None),
        (500.4, "latency 500 ms over 500 ms"),
        (501.0, "latency 501 ms over 500 ms"),
        (999.0, "latency 999 ms over 500 ms"),
        (1000.0, "latency 1000 ms over 500 ms"),
        (30000.0, "latency 30000 ms over 500 ms"),
    ],
)
def test_max_latency_is_a_limit_the_latency_may_reach_but_not_pass(latency_ms: float, failure: str | None) -> None:
    # Given a route allowing 500 ms, When the response took latency_ms
    answer = HttpResponse(200, CaseInsensitiveDict(), b"ok", latency_ms=latency_ms)

    # Then it passes up to 500 ms included, and any slower answer fails naming both
    assert reasons({"maxLatencyMs": 500}, answer) == ([failure] if failure else [])


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


def test_a_jsonpath_matching_several_values_passes_on_any_and_names_them_all_when_none_fits() -> None:
    answer = response(body=b'{"items": [{"id": 1}, {"id": 2}]}')

    assert reasons({"json": {"$.items[*].id": 2}}, answer) == []
    assert reasons({"json": {"$.items[*].id": 3}}, answer) == ["$.items[*].id is [1, 2], expected 3"]


def test_json_values_compare_by_type_as_well_as_value() -> None:
    assert reasons({"json": {"$.items[0]": "1"}}) == ['$.items[0] is 1, expected "1"']


def test_header_values_are_case_sensitive_substrings() -> None:
    answer = response(headers={"Cache-Control": "no-cache, no-store"})

    assert reasons({"headers": {"cache-control": "no-store"}}, answer) == []
    assert reasons({"headers": {"Cache-Control": "No-Store"}}, answer) == [
        'header Cache-Control is "no-cache, no-store", expected to contain "No-Store"'
    ]


@pytest.mark.parametrize(
    ("needle", "shown"),
    [
        ("n" * 58, '"' + "n" * 58 + '"'),
        ("n" * 59, '"' + "n" * 56 + "..."),
    ],
)
def test_values_in_reasons_are_cut_at_60_characters(needle: str, shown: str) -> None:
    assert reasons({"bodyContains": needle}) == [f"body does not contain {shown}"]


def test_reasons_are_joined_with_semicolons_up_to_160_characters() -> None:
    assert join_reasons(["status 500, expected 2xx", "latency 12 ms over 5 ms"]) == (
        "status 500, expected 2xx; latency 12 ms over 5 ms"
    )
    assert join_reasons(["x" * 78, "y" * 80]) == "x" * 78 + "; " + "y" * 80
