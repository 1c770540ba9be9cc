"""Bad probe input of every shape: each case ends in a structured result or a failed probe naming the field."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.property.strategies import CASES, json_values
from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tollgate_core.checks import routes_of
from tollgate_core.probing import ProbeRequest, probe_attempt, probe_event
from tollgate_core.suite import SuiteError, parse_suite


@pytest.fixture(scope="module")
def target() -> Iterator[TargetService]:
    routes = {
        "/ok": Behaviour(body={"status": "ok"}),
        "/teapot": Behaviour(status=418, body="short and stout"),
        "/redirect": Behaviour(status=302, headers={"Location": "/ok"}),
    }
    with TargetService(routes) as service:
        yield service


probe_routes = st.fixed_dictionaries(
    {
        "name": st.just("r"),
        "path": st.sampled_from(["/ok", "/teapot", "/redirect", "/missing", "/ok?x=1"]),
        "method": st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        "followRedirects": st.booleans(),
        "body": st.none() | st.text(max_size=30) | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        "headers": st.dictionaries(st.sampled_from(["X-A", "Accept", "X-Trace"]), st.text(max_size=10), max_size=2),
        "expect": st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(["2xx", "4xx", 418, [200, "3xx"]]),
                "bodyContains": st.text(min_size=1, max_size=5),
                "json": st.just({"$.status": "ok"}),
                "headers": st.just({"Content-Type": "json"}),
                "maxLatencyMs": st.floats(0.001, 1000),
            },
        ),
        "retry": st.fixed_dictionaries({"maxAttempts": st.integers(1, 10), "intervalSeconds": st.integers(0, 5)}),
    }
)


@CASES
@given(probe_route=probe_routes, attempt=st.integers(1, 10))
def test_any_valid_probe_input_gives_a_structured_result(
    probe_route: dict[str, Any], attempt: int, target: TargetService
) -> None:
    try:
        suite = parse_suite(suite_document(stage("smoke", probe_route), base_url=target.url))
    except SuiteError:
        return
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, 1, attempt)

    result = probe_attempt(request, rng=random.Random(0))

    assert set(result) == {
        "stage",
        "route",
        "round",
        "attempts",
        "ok",
        "statusCode",
        "latencyMs",
        "reason",
        "final",
        "retryInSeconds",
    }
    assert result["ok"] is (result["reason"] is None)
    assert result["final"] or result["retryInSeconds"] >= 0


# Every field the probe reads, with a value of a type it cannot use (None where any JSON value would do).
PROBE_EVENT_FIELDS: dict[str, Any] = {
    "stage": 7,
    "round": "1",
    "probe": [],
    "probe.result": "x",
    "probe.result.attempts": True,
    "route": "health",
    "route.name": 1,
    "route.path": None,
    "route.method": ["GET"],
    "route.headers": "Accept: */*",
    "route.body": None,
    "route.followRedirects": "no",
    "route.retry": 3,
    "route.retry.maxAttempts": 2.5,
    "route.retry.intervalSeconds": "1",
    "route.retry.backoffRate": None,
    "route.expect": [],
    "route.expect.status": "2xx",
    "target": None,
    "target.baseUrl": {"url": "http://x"},
    "target.headers": [],
    "target.timeoutSeconds": "2",
    "target.verifyTls": 1,
}


def valid_probe_event() -> dict[str, Any]:
    suite = parse_suite(suite_document(stage("smoke", route("health"))))
    return {
        "stage": "smoke",
        "round": 1,
        "route": routes_of(suite.stages[0])[0],
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


@CASES
@given(field=st.sampled_from(sorted(PROBE_EVENT_FIELDS)), remove=st.booleans())
def test_a_probe_event_with_one_bad_field_is_a_failed_probe_naming_the_field(field: str, remove: bool) -> None:
    # Given a probe event with one field missing, or of a type the probe cannot use
    event = valid_probe_event()
    *parents, name = field.split(".")
    container = event
    for parent in parents:
        container = container[parent]
    if remove or field == "route.body":
        del container[name]
    else:
        container[name] = PROBE_EVENT_FIELDS[field]

    # When the probe gets it
    result = probe_event(event)

    # Then the probe is a failed, final one whose reason names that field, and nothing was sent
    assert (result["ok"], result["final"], result["statusCode"]) == (False, True, None)
    assert result["reason"] is not None
    assert result["reason"].startswith(f"malformed probe event: {field}: ")


def valid_invoke_event() -> dict[str, Any]:
    document = {"version": 1, "stages": [stage("api", {"name": "orders-api", "invoke": {"function": "shop-api"}})]}
    suite = parse_suite(document)
    return {
        "stage": "api",
        "round": 1,
        "route": routes_of(suite.stages[0])[0],
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


@CASES
@given(field=st.sampled_from(["invoke", "function", "payload", "timeoutSeconds"]), value=json_values)
def test_any_value_in_an_invocation_field_is_a_named_problem_or_an_attempt(field: str, value: Any) -> None:
    # Given an invoke route's event with any value in one field of its invocation
    event = valid_invoke_event()
    container = event["route"] if field == "invoke" else event["route"]["invoke"]
    container[field] = value

    # When the probe gets it, with nothing to invoke through
    result = probe_event(event)

    # Then it is a failed probe that names the malformed field, or an attempt that found no invoker
    assert result["ok"] is False
    assert result["reason"] is not None
    assert re.match(r"malformed probe event: route\.invoke[\w.]*: |no function invoker for ", result["reason"])
    json.dumps(result)


@CASES
@given(event=json_values)
def test_any_malformed_probe_event_is_a_failed_probe_naming_a_field(event: Any) -> None:
    result = probe_event(event)

    assert (result["ok"], result["final"]) == (False, True)
    assert result["reason"] is not None
    assert re.match(r"malformed probe event: [(\w.)]+: (missing|expected )", result["reason"])
    json.dumps(result)
