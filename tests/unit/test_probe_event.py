"""The probe's answer to the workflow's event: an attempt's result, or a failed final one naming the bad field."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService, closed_port_url
from tollgate_core.checks import routes_of
from tollgate_core.probing import ProbeRequest, probe_attempt, probe_event
from tollgate_core.suite import parse_suite

REMOVED = object()


@pytest.fixture(scope="module")
def target() -> Iterator[TargetService]:
    routes = {
        "/health": Behaviour(body={"status": "ok"}),
        "/long": Behaviour(body="x" * 95 + "end"),
    }
    with TargetService(routes) as service:
        yield service


def probe_event_for(base_url: str = "http://127.0.0.1:9", round_number: int = 2, **route_settings: Any) -> Any:
    suite = parse_suite(suite_document(stage("smoke", route("health", **route_settings)), base_url=base_url))
    return {
        "stage": "smoke",
        "round": round_number,
        "route": routes_of(suite.stages[0])[0],
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


def with_field(field: str, value: Any) -> Any:
    event = probe_event_for()
    *parents, name = field.split(".")
    container = event
    for parent in parents:
        container = container[parent]
    if value is REMOVED:
        del container[name]
    else:
        container[name] = value
    return event


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("stage", REMOVED, "stage: missing"),
        ("stage", 7, "stage: expected str, got int"),
        ("round", "1", "round: expected int, got str"),
        ("round", True, "round: expected int, got bool"),
        ("probe", [], "probe: expected an object, got list"),
        ("probe.result", REMOVED, "probe.result: missing"),
        ("probe.result", "x", "probe.result: expected an object, got str"),
        ("probe.result.attempts", True, "probe.result.attempts: expected int, got bool"),
        ("route", "health", "route: expected an object, got str"),
        ("route.name", 1, "route.name: expected str, got int"),
        ("route.path", None, "route.path: expected str, got NoneType"),
        ("route.method", ["GET"], "route.method: expected str, got list"),
        ("route.headers", "Accept: */*", "route.headers: expected dict, got str"),
        ("route.body", REMOVED, "route.body: missing"),
        ("route.followRedirects", "no", "route.followRedirects: expected bool, got str"),
        ("route.retry", 3, "route.retry: expected dict, got int"),
        ("route.retry.maxAttempts", 2.5, "route.retry.maxAttempts: expected int, got float"),
        ("route.retry.intervalSeconds", "1", "route.retry.intervalSeconds: expected a number, got str"),
        ("route.retry.backoffRate", None, "route.retry.backoffRate: expected a number, got NoneType"),
        ("route.expect", [], "route.expect: expected dict, got list"),
        ("route.expect.status", "2xx", "route.expect.status: missing or not a list"),
        ("target", None, "target: expected an object, got NoneType"),
        ("target.baseUrl", {"url": "http://x"}, "target.baseUrl: expected str, got dict"),
        ("target.headers", [], "target.headers: expected dict, got list"),
        ("target.timeoutSeconds", "2", "target.timeoutSeconds: expected a number, got str"),
        ("target.verifyTls", 1, "target.verifyTls: expected bool, got int"),
    ],
)
def test_a_malformed_event_fails_the_probe_naming_the_field_and_what_is_wrong(
    field: str, value: Any, problem: str
) -> None:
    # Given a probe event with one field missing or of a type the probe cannot use
    event = with_field(field, value)

    # When the probe gets it
    result = probe_event(event)

    # Then the probe fails at once, for good, saying which field and why
    assert result["reason"] == f"malformed probe event: {problem}"
    assert (result["ok"], result["final"], result["retryInSeconds"]) == (False, True, 0)


@pytest.mark.parametrize(
    ("event", "names"),
    [
        (with_field("target", None), ("smoke", "health", 2)),
        ({"stage": "soak", "route": "health", "round": "2"}, ("soak", "?", 0)),
        ({"stage": "soak", "route": {"path": "/health"}, "round": 2}, ("soak", "?", 2)),
        ([], ("?", "?", 0)),
    ],
)
def test_a_failed_probe_for_a_malformed_event_names_what_it_can_read(event: Any, names: tuple[Any, ...]) -> None:
    result = probe_event(event)

    assert (result["stage"], result["route"], result["round"]) == names
    assert (result["attempts"], result["statusCode"], result["latencyMs"]) == (1, None, None)


def test_an_event_that_is_no_object_is_named_as_the_event() -> None:
    assert probe_event(None)["reason"] == "malformed probe event: (event): expected an object, got NoneType"


class StaticSecrets:
    def resolve(self, reference: dict[str, str]) -> str:
        return f"Bearer {reference['ssm']}"


def test_the_probe_sends_secret_headers_as_the_resolver_reads_them(target: TargetService) -> None:
    event = probe_event_for(target.url, headers={"Authorization": {"ssm": "/shop/token"}})

    result = probe_event(event, secrets=StaticSecrets())

    assert result["ok"] is True
    assert target.requests[-1]["headers"]["Authorization"] == "Bearer /shop/token"


def test_the_probe_reads_no_more_of_the_body_than_its_cap(target: TargetService) -> None:
    # Given a route expecting a word at the end of a 98-byte body, When the probe may read 10 bytes of it
    event = probe_event_for(target.url, path="/long", expect={"bodyContains": "end"})

    # Then it fails for want of the word, and says the body was cut
    assert probe_event(event, body_cap_bytes=10)["reason"] == (
        'body does not contain "end" (body truncated at the read cap)'
    )


def test_an_attempt_that_got_no_answer_has_no_status_and_no_latency() -> None:
    suite = parse_suite(suite_document(stage("smoke", route("health")), base_url=closed_port_url()))
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, round=3, attempt=3)

    result = probe_attempt(request)

    assert result == {
        "stage": "smoke",
        "route": "health",
        "round": 3,
        "attempts": 3,
        "ok": False,
        "statusCode": None,
        "latencyMs": None,
        "reason": "connection refused",
        "final": True,
        "retryInSeconds": 0,
    }


def test_a_failed_attempt_waits_a_jittered_share_of_the_backoff_before_the_next() -> None:
    # Given a route whose first retry may wait up to 100 s, and a random source that draws 13.4% of that
    suite = parse_suite(
        suite_document(stage("smoke", route("health", retry={"intervalSeconds": 100})), base_url=closed_port_url())
    )
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, round=1, attempt=1)

    # When the first attempt fails
    result = probe_attempt(request, rng=random.Random(1))

    # Then the workflow is told to wait that share, in whole seconds
    assert (result["final"], result["retryInSeconds"]) == (False, 13)
