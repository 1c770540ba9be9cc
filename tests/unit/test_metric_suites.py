"""Metric checks in a suite: their normalized form, and every problem named by its field, word for word."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document, target_group_check
from tollgate_core.budget import worst_case_seconds
from tollgate_core.checks import metrics_of, routes_of
from tollgate_core.suite import SuiteError, parse_suite

TARGET_GROUP = "targetgroup/shop-green/73e2d6bc24d8a067"
ALB = {"loadBalancer": "app/shop/50dc6c495c0c9188", "targetGroup": TARGET_GROUP}
ERRORS_SUM = {"Metric": {"Namespace": "Shop", "MetricName": "OrderErrors"}, "Period": 60, "Stat": "Sum"}


def with_metrics(*checks: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return suite_document(stage("soak", metrics=list(checks), **settings))


def error_rate(name: str = "green-5xx-rate", **settings: Any) -> dict[str, Any]:
    return target_group_check(name, TARGET_GROUP, errorRatePercent={"max": 1}, **settings)


def query_check(*queries: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"name": "orders-errors", "query": list(queries), "max": 0, **settings}


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SuiteError) as raised:
        parse_suite(document)
    return raised.value.problems


def test_each_measure_is_normalized_with_its_defaults() -> None:
    # Given one check of each measure, each with only what it must have
    latency = target_group_check("green-p99", TARGET_GROUP, latencyMs={"max": 800})
    query = query_check({"Id": "e", "MetricStat": ERRORS_SUM})

    # When the suite is parsed
    soak = parse_suite(with_metrics(error_rate(), latency, query)).stages[0]

    # Then every check has the one shape the metric reader reads, defaults filled in
    assert metrics_of(soak) == [
        {
            "kind": "metric",
            "name": "green-5xx-rate",
            "measure": "errorRatePercent",
            "lookbackSeconds": 300,
            "noData": "fail",
            "threshold": {"max": 1},
            "alb": ALB,
            "minRequests": 1,
        },
        {
            "kind": "metric",
            "name": "green-p99",
            "measure": "latencyMs",
            "lookbackSeconds": 300,
            "noData": "fail",
            "threshold": {"max": 800},
            "alb": ALB,
            "minRequests": 1,
            "stat": "p99",
        },
        {
            "kind": "metric",
            "name": "orders-errors",
            "measure": "query",
            "lookbackSeconds": 300,
            "noData": "fail",
            "threshold": {"max": 0},
            "query": [{"Id": "e", "MetricStat": ERRORS_SUM}],
        },
    ]
    assert routes_of(soak) == []


def test_routes_come_before_metrics_in_the_checks_the_workflow_runs() -> None:
    # Given a stage with a metric check and a route
    document = suite_document(stage("soak", route("health"), metrics=[error_rate()]))

    # When it is parsed, Then the Map runs the route, then the metric check
    checks = parse_suite(document).stages[0]["checks"]
    assert [(check["kind"], check["name"]) for check in checks] == [("route", "health"), ("metric", "green-5xx-rate")]


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        (
            {**error_rate(), "latencyMs": {"max": 800}},
            "stages[0].metrics[0]: give exactly one of errorRatePercent, latencyMs or query "
            "(found: errorRatePercent, latencyMs)",
        ),
        (
            {"name": "nothing", "alb": ALB},
            "stages[0].metrics[0]: give exactly one of errorRatePercent, latencyMs or query (found: none)",
        ),
        (
            {"name": "no-alb", "errorRatePercent": {"max": 1}},
            "stages[0].metrics[0].alb: errorRatePercent reads a target group's metrics; "
            "name its loadBalancer and targetGroup",
        ),
        (
            target_group_check("open", TARGET_GROUP, errorRatePercent={}),
            "stages[0].metrics[0].errorRatePercent: give a max, a min or both",
        ),
        (
            target_group_check("never", TARGET_GROUP, latencyMs={"min": 10, "max": 5}),
            "stages[0].metrics[0].latencyMs: min 10 is above max 5; no value could pass",
        ),
        (
            {**error_rate(), "max": 1},
            "stages[0].metrics[0].max: only a query check has max; put it in errorRatePercent",
        ),
        (
            target_group_check("p", TARGET_GROUP, latencyMs={"stat": "p999", "max": 5}),
            "stages[0].metrics[0].latencyMs.stat: must be Average, Minimum, Maximum or a percentile such as p99 "
            "or p99.9 (p0 to p100, up to two decimals) (got 'p999')",
        ),
        (
            target_group_check("tg", "green", errorRatePercent={"max": 1}),
            "stages[0].metrics[0].alb.targetGroup: must be targetgroup/<name>/<id>, the end of the target group's "
            "ARN (got 'green')",
        ),
        (error_rate(lookbackSeconds=90), "stages[0].metrics[0].lookbackSeconds: 90 is not a multiple of 60"),
        (error_rate(noData="maybe"), "stages[0].metrics[0].noData: 'maybe' is not one of ['pass', 'fail']"),
        (
            query_check({"Id": "e", "MetricStat": ERRORS_SUM}, alb=ALB),
            "stages[0].metrics[0].alb: a query check reads only its queries; alb is for errorRatePercent and latencyMs",
        ),
        (
            {**query_check({"Id": "e", "MetricStat": ERRORS_SUM}), "max": 1, "min": 2},
            "stages[0].metrics[0]: min 2 is above max 1; no value could pass",
        ),
        (
            {"name": "unbounded", "query": [{"Id": "e", "MetricStat": ERRORS_SUM}]},
            "stages[0].metrics[0]: give a max, a min or both",
        ),
        (
            query_check({"Id": "e", "MetricStat": ERRORS_SUM}, {"Id": "r", "MetricStat": ERRORS_SUM}),
            "stages[0].metrics[0].query: exactly one query must return data, the series judged; set ReturnData: "
            "false on the others (returning data: e, r)",
        ),
        (
            query_check({"Id": "e", "MetricStat": ERRORS_SUM, "ReturnData": False}),
            "stages[0].metrics[0].query: exactly one query must return data, the series judged; set ReturnData: "
            "false on the others (returning data: none)",
        ),
        (
            query_check(
                {"Id": "e", "MetricStat": ERRORS_SUM, "ReturnData": False}, {"Id": "e", "MetricStat": ERRORS_SUM}
            ),
            "stages[0].metrics[0].query[1].Id: 'e' is used twice",
        ),
        (
            query_check({"Id": "e", "MetricStat": {**ERRORS_SUM, "Period": 420}}),
            "stages[0].metrics[0].query[0].MetricStat.Period: 420 s is longer than the window (360 s: "
            "lookbackSeconds 300 and the current minute); no whole period would fit in it",
        ),
        (
            query_check({"Id": "e", "MetricStat": {**ERRORS_SUM, "Period": 45}}),
            "stages[0].metrics[0].query[0].MetricStat.Period: 45 must be 1, 5, 10, 20, 30 or a multiple of 60",
        ),
        (
            query_check({"Id": "e"}),
            "stages[0].metrics[0].query[0]: give exactly one of MetricStat or Expression",
        ),
        (
            query_check({"Id": "Errors", "MetricStat": ERRORS_SUM}),
            "stages[0].metrics[0].query[0].Id: must start with a lowercase letter, followed by letters, digits "
            "or '_' (got 'Errors')",
        ),
        (
            query_check({"Id": "e", "MetricStat": {**ERRORS_SUM, "Stat": "tm99"}}),
            "stages[0].metrics[0].query[0].MetricStat.Stat: must be SampleCount, Sum, Average, Minimum, Maximum "
            "or a percentile such as p99 or p99.9 (p0 to p100, up to two decimals) (got 'tm99')",
        ),
    ],
)
def test_a_metric_check_that_cannot_be_judged_is_rejected_naming_the_field(check: dict[str, Any], problem: str) -> None:
    assert problems_of(with_metrics(check)) == [problem]


def test_an_expression_over_an_unknown_query_is_rejected_naming_the_query() -> None:
    # Given an expression that divides by a query the check does not have
    check = query_check(
        {"Id": "e", "MetricStat": ERRORS_SUM, "ReturnData": False}, {"Id": "rate", "Expression": "e / r"}
    )

    # Then the problem names the expression's field
    (problem,) = problems_of(with_metrics(check))
    assert problem.startswith("stages[0].metrics[0].query[1].Expression: ")
    assert "'r'" in problem


def test_a_stage_needs_routes_or_metrics() -> None:
    assert problems_of(suite_document({"name": "empty"})) == ["stages[0]: a stage needs routes, metrics or both"]


def test_a_metric_check_and_a_route_may_not_share_a_name() -> None:
    document = suite_document(stage("soak", route("orders"), metrics=[error_rate(name="orders")], maxFailedProbes=0))
    assert problems_of(document) == ["stages[0].metrics[0].name: 'orders' is used twice"]


def test_metric_checks_count_in_the_failure_budget() -> None:
    # Given one route and one metric check over two rounds: four probes
    document = suite_document(stage("soak", route("health"), metrics=[error_rate()], rounds=2, maxFailedProbes=4))

    # Then a budget of four lets every one fail
    assert problems_of(document) == [
        "stages[0].maxFailedProbes: 4 lets all 4 probes of the stage fail; it must be smaller than rounds x "
        "(routes + metrics)"
    ]


def test_metric_rounds_count_in_the_worst_case_duration() -> None:
    # Given a stage of one metric check read 100 times, a minute apart
    document = with_metrics(error_rate(), rounds=100, intervalSeconds=60)

    # Then its worst case holds every reading at the reader's timeout and every wait
    assert worst_case_seconds(parse_suite(document, budget_seconds=20_000).document) == 100 * 60 + 99 * 60
    (problem,) = problems_of(document)
    assert problem.startswith("(suite): worst-case duration 11940 s exceeds the hook's time budget of 3300 s")
