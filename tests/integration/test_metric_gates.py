"""Metric gates on the embedded engine: the real workflow reads the engine's CloudWatch, seeded as an ALB would be.

Every test seeds its own target group, so the session's shared CloudWatch holds no data another test reads.
"""

from __future__ import annotations

from typing import Any

from tests.support import workflow_scenarios as scenarios
from tests.support.alb_metrics import ALB_NAMESPACE, new_target_group, seed_alb_traffic, target_group_dimensions
from tests.support.suites import route, stage, suite_document, target_group_check
from tests.support.target import Behaviour, TargetService
from tests.support.workflow_scenarios import Workflow, entered_states, probes
from tollgate.local_run import RunOutcome
from tollgate_core.contracts import ProbeResult


def readings(outcome: RunOutcome) -> list[ProbeResult]:
    return [result for result in probes(outcome) if "value" in result]


def only_reason(outcome: RunOutcome) -> str:
    (reading,) = readings(outcome)
    assert reading["reason"] is not None, reading
    return reading["reason"]


def test_a_stage_judged_by_healthy_metrics_passes(workflow: Workflow) -> None:
    # Given a target group that served 1000 requests, 5 of them 5xx, all answered within 300 ms
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=1000, errors=5, response_seconds=[0.1, 0.2, 0.3])
    checks = [
        target_group_check("error-rate", target_group, errorRatePercent={"max": 1}, minRequests=50),
        target_group_check("p99", target_group, latencyMs={"stat": "p99", "max": 800}),
    ]

    # When a stage of metric checks alone validates it
    outcome = workflow.run(suite_document(stage("soak", metrics=checks)))

    # Then CodeDeploy records Succeeded, each check was read in a `Read metric` state, with its value
    assert outcome.reported_status == "Succeeded"
    assert entered_states(outcome).count("Read metric") == 2
    assert {reading["route"]: reading["value"] for reading in readings(outcome)} == {"error-rate": 0.5, "p99": 300}
    assert all(reading["ok"] for reading in readings(outcome))


def test_an_error_rate_over_its_max_fails_the_stage_with_what_was_measured(workflow: Workflow) -> None:
    scenarios.metric_gate_fails_on_the_error_rate_beside_a_passing_route(workflow)


def test_a_p99_latency_over_its_max_fails(workflow: Workflow) -> None:
    # Given 100 responses taking 10, 20, ... 1000 ms: 99 % of them took at most 990 ms
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=100, response_seconds=[n / 100 for n in range(1, 101)])

    # When the stage allows a p99 of 800 ms
    check = target_group_check("green-p99", target_group, latencyMs={"stat": "p99", "max": 800})
    outcome = workflow.run(suite_document(stage("soak", metrics=[check])))

    # Then it fails on the p99 the engine computed as CloudWatch does
    assert outcome.reported_status == "Failed"
    assert only_reason(outcome).startswith("p99 latency 990 ms over max 800 ms")


def test_a_window_without_data_fails_unless_the_check_says_no_data_passes(workflow: Workflow) -> None:
    # Given a target group that served nothing at all
    target_group = new_target_group()

    # When one check keeps the default (noData: fail) and the other says noData: pass
    strict = target_group_check("strict", target_group, errorRatePercent={"max": 1})
    lenient = target_group_check("lenient", target_group, errorRatePercent={"max": 1}, noData="pass")
    failed = workflow.run(suite_document(stage("soak", metrics=[strict])))
    passed = workflow.run(suite_document(stage("soak", metrics=[lenient])))

    # Then "no data" is never a silent pass: it fails, or it passes saying so
    assert failed.reported_status == "Failed"
    assert only_reason(failed).startswith("no ")
    assert passed.reported_status == "Succeeded"
    assert "noData: pass" in only_reason(passed)


def test_routes_and_metrics_share_the_stage_failure_budget(workflow: Workflow) -> None:
    # Given a healthy route and a target group with a 50 % error rate
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=100, errors=50)
    error_rate = target_group_check("error-rate", target_group, errorRatePercent={"max": 1})

    with TargetService({"/health": Behaviour()}) as target:
        # When one stage runs both for two rounds, tolerating two failures, and another tolerates one
        within = stage("soak", route("health"), metrics=[error_rate], rounds=2, maxFailedProbes=2)
        over = stage("soak", route("health"), metrics=[error_rate], rounds=2, maxFailedProbes=1)
        within_budget = workflow.run(suite_document(within), target.url)
        over_budget = workflow.run(suite_document(over), target.url)

    # Then the failed readings count as failed probes: two of four pass the first stage, not the second
    assert within_budget.reported_status == "Succeeded"
    assert [(p["route"], p["ok"]) for p in probes(within_budget)].count(("error-rate", False)) == 2
    assert over_budget.reported_status == "Failed"
    assert over_budget.summary is not None
    assert str(over_budget.summary["reason"]).startswith("stage 'soak': 2 failed probes, budget 1")


def test_a_query_check_judges_its_metric_math_series(workflow: Workflow) -> None:
    # Given 5 errors in 200 requests, read with metric math: a 2.5 % error rate
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=200, errors=5)
    dimensions = target_group_dimensions(target_group)

    def sum_of(metric_name: str) -> dict[str, Any]:
        metric = {"Namespace": ALB_NAMESPACE, "MetricName": metric_name, "Dimensions": dimensions}
        return {"Metric": metric, "Period": 360, "Stat": "Sum"}

    query = [
        {"Id": "r", "MetricStat": sum_of("RequestCount"), "ReturnData": False},
        {"Id": "e", "MetricStat": sum_of("HTTPCode_Target_5XX_Count"), "ReturnData": False},
        {"Id": "rate", "Expression": "100 * FILL(e, 0) / r", "Label": "error rate"},
    ]

    # When one check allows at most 2 % and another at most 3 %
    strict = workflow.run(suite_document(stage("soak", metrics=[{"name": "rate", "query": query, "max": 2}])))
    lenient = workflow.run(suite_document(stage("soak", metrics=[{"name": "rate", "query": query, "max": 3}])))

    # Then the series the expression returns is what is judged
    assert strict.reported_status == "Failed"
    assert only_reason(strict).startswith("error rate 2.5 over max 2")
    assert lenient.reported_status == "Succeeded"
    assert readings(lenient)[0]["value"] == 2.5


def test_a_metric_reader_that_crashes_is_a_failed_check(workflow: Workflow) -> None:
    # Given a metric reader that times out before it can answer
    reader = workflow.engine.app.function("MetricReaderFunction").name
    workflow.engine.configure_function(reader, timeout_seconds=0.01)
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=100)

    # When a stage reads a metric
    check = target_group_check("error-rate", target_group, errorRatePercent={"max": 1})
    outcome = workflow.run(suite_document(stage("soak", metrics=[check])))

    # Then the crash is recorded as the check's failure and the deployment fails
    assert outcome.reported_status == "Failed"
    assert "Record reading crash" in entered_states(outcome)
    assert [(p["route"], p["ok"], p["reason"]) for p in probes(outcome)] == [
        ("error-rate", False, "metric reader failed: Sandbox.Timedout")
    ]
