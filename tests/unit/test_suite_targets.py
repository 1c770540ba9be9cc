"""A suite's target: a base URL, or the listener the deployment names (`fromDeployment`), and only when HTTP is sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.suites import route, stage, target_group_check
from tollgate_core.budget import worst_case_seconds
from tollgate_core.contracts import ListenerRole
from tollgate_core.suite import SuiteError, parse_suite

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:shop-api"
NEEDS_A_TARGET = "target: stages[0].routes[0] sends an HTTP request; give target.baseUrl or target.fromDeployment"


def suite_with(target: dict[str, Any] | None, *routes: dict[str, Any], **stage_settings: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"version": 1, "stages": [stage("smoke", *routes, **stage_settings)]}
    if target is not None:
        document["target"] = target
    return document


def invoke_route(name: str = "order-api") -> dict[str, Any]:
    return {"name": name, "invoke": {"function": FUNCTION}}


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SuiteError) as raised:
        parse_suite(document)
    return raised.value.problems


def test_a_target_from_the_deployment_waits_for_the_hook_to_resolve_it() -> None:
    # Given HTTP routes aimed at the deployment's test listener
    suite = parse_suite(suite_with({"fromDeployment": "testListener", "timeoutSeconds": 5}, route("health")))

    # Then the target has no URL yet, keeps what was asked, and the suite says which listener it needs
    assert suite.target == {
        "baseUrl": "",
        "fromDeployment": "testListener",
        "headers": {},
        "timeoutSeconds": 5,
        "verifyTls": True,
    }
    assert suite.needs_deployment_target is ListenerRole.TEST


def test_once_the_url_is_filled_in_nothing_more_is_needed_and_the_request_is_kept() -> None:
    suite = parse_suite(suite_with({"fromDeployment": "productionListener"}, route("health")))
    assert suite.needs_deployment_target is ListenerRole.PRODUCTION

    resolved = suite.with_base_url("http://internal-shop-123.us-east-1.elb.amazonaws.com:8080/")

    assert resolved.target["baseUrl"] == "http://internal-shop-123.us-east-1.elb.amazonaws.com:8080"
    assert resolved.target["fromDeployment"] == "productionListener"
    assert resolved.needs_deployment_target is None


def test_a_suite_with_a_base_url_needs_no_listener() -> None:
    suite = parse_suite(suite_with({"baseUrl": "http://svc:8080"}, route("health")))

    assert suite.needs_deployment_target is None
    assert "fromDeployment" not in suite.target


@pytest.mark.parametrize(
    "document",
    [
        suite_with(None, invoke_route()),
        suite_with(
            None, metrics=[target_group_check("green-5xx", "targetgroup/shop-green/73e2", errorRatePercent={"max": 1})]
        ),
        suite_with({"headers": {"X-Trace": "1"}, "timeoutSeconds": 3}, invoke_route()),
        suite_with({"fromDeployment": "testListener"}, invoke_route()),
    ],
    ids=["invoke routes", "metric checks", "target without a URL", "fromDeployment unused"],
)
def test_a_suite_that_sends_no_http_needs_no_target_url(document: dict[str, Any]) -> None:
    # Given a suite of invoke routes or metric checks, with no target or one without a URL
    suite = parse_suite(document)

    # Then its target has no URL, and the hook has no listener to look up
    assert suite.target["baseUrl"] == ""
    assert suite.needs_deployment_target is None


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (None, NEEDS_A_TARGET),
        ({}, NEEDS_A_TARGET),
        ({"headers": {"Host": "api.example.com"}}, NEEDS_A_TARGET),
        (
            {"baseUrl": "http://svc:8080", "fromDeployment": "testListener"},
            "target: give either baseUrl or fromDeployment, not both",
        ),
        (
            {"fromDeployment": "blueListener"},
            "target.fromDeployment: 'blueListener' is not one of ['testListener', 'productionListener']",
        ),
    ],
)
def test_a_target_that_cannot_aim_the_http_routes_is_named(target: dict[str, Any] | None, problem: str) -> None:
    assert problems_of(suite_with(target, route("health"))) == [problem]


def test_the_first_http_route_after_invoke_routes_is_the_one_named() -> None:
    document = suite_with(None, invoke_route(), route("health"))

    assert problems_of(document) == [
        "target: stages[0].routes[1] sends an HTTP request; give target.baseUrl or target.fromDeployment"
    ]


def test_both_urls_are_refused_even_where_no_http_is_sent() -> None:
    document = suite_with({"baseUrl": "http://svc:8080", "fromDeployment": "testListener"}, invoke_route())

    assert problems_of(document) == ["target: give either baseUrl or fromDeployment, not both"]


def test_http_routes_aimed_at_the_deployment_count_the_targets_timeout() -> None:
    # Given 3 attempts of 4 s with waits of 1 + 2 s
    document = suite_with({"fromDeployment": "testListener", "timeoutSeconds": 4}, route("health"))

    assert worst_case_seconds(parse_suite(document).document) == 15.0
