"""The embedded-metric documents the hooks and the reporter print, parsed as CloudWatch Logs would parse them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from tests.support.fakes import KnownFailures, NoSuites, RecordingStarter, RecordingStatusReporter
from tests.support.suites import route, stage, suite_document
from tests.unit.test_ecs_hook import SETTINGS, FakeExecutions, ecs_event
from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
    ExecutionStatus,
    HookStatus,
    Progress,
    ReportRequest,
    StageStatus,
)
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.observability import metrics
from tollgate_core.ports import ExecutionState
from tollgate_core.reporting import EndedExecution, hook_ids, report_ended_execution, report_validation
from tollgate_core.validation_metrics import (
    MAX_ROUTES_IN_PROPERTIES,
    DecidedValidation,
    parse_start_time,
    record_decided,
    start_time_from_millis,
)

EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:shop-validation:AfterAllowTraffic-1"
DEPLOYMENT: Deployment = {
    "deploymentId": "d-ABCDEFGHI",
    "lifecycleEventHookExecutionId": "hook-1",
    "lifecycleEvent": "AfterAllowTraffic",
    "controller": Controller.CODEDEPLOY,
}
ECS_DEPLOYMENT: EcsDeployment = {
    "controller": Controller.ECS,
    "executionId": "sd-7f3a",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web",
    "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web/222",
    "productionWeight": 0,
}
STARTED = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def printed_documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every EMF document printed so far, after flushing what is still held, as the log lines CloudWatch reads."""
    if metrics.metric_set:  # as the handlers' log_metrics does at the end of each invocation
        metrics.flush_metrics()
    documents = []
    for line in capsys.readouterr().out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def directives(document: dict[str, Any]) -> dict[str, Any]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return cast(dict[str, Any], directive)


def values(documents: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Each metric's values over all documents, as CloudWatch would aggregate them."""
    found: dict[str, list[float]] = {}
    for document in documents:
        for metric in directives(document)["Metrics"]:
            found.setdefault(metric["Name"], []).extend(document[metric["Name"]])
    return found


def units(documents: list[dict[str, Any]]) -> dict[str, str]:
    return {metric["Name"]: metric["Unit"] for document in documents for metric in directives(document)["Metrics"]}


def progress(*stages: tuple[str, list[tuple[str, int, int, list[float]]]]) -> Progress:
    """A finished progress: for each stage, its routes as (name, probes, failed, latencies)."""
    return cast(
        Progress,
        {
            "stageIndex": len(stages) - 1,
            "round": 1,
            "next": "report",
            "waitSeconds": 0,
            "outcome": "passed",
            "reason": None,
            "stages": [
                {
                    "name": name,
                    "status": "passed",
                    "rounds": 3,
                    "intervalSeconds": 0,
                    "maxFailedProbes": 1,
                    "roundsRun": 3,
                    "probes": sum(probes for _, probes, _, _ in routes),
                    "failedProbes": sum(failed for _, _, failed, _ in routes),
                    "routes": [
                        {
                            "route": route_name,
                            "probes": probes,
                            "failed": failed,
                            "attempts": probes,
                            "latencyMs": {"min": min(ms), "max": max(ms), "sum": sum(ms), "count": len(ms)}
                            if ms
                            else None,
                            "lastReason": None,
                        }
                        for route_name, probes, failed, ms in routes
                    ],
                }
                for name, routes in stages
            ],
        },
    )


def test_a_passed_validation_is_counted_with_its_time_probes_and_latency_per_lifecycle_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a validation of two stages that passed, one failed probe within its budget, one metric check
    passed = progress(
        ("smoke", [("health", 3, 0, [10.0, 20.0, 30.0]), ("orders", 3, 1, [100.0, 200.0])]),
        ("soak", [("health", 2, 0, [5.0, 7.0]), ("green-5xx-rate", 2, 0, [])]),
    )
    validation = DecidedValidation(DEPLOYMENT, HookStatus.SUCCEEDED, None, False, passed, STARTED, EXECUTION_ARN)

    # When the reporter records its verdict 90.5 s after the execution started
    record_decided(validation, datetime(2026, 11, 26, 10, 1, 30, 500000, tzinfo=UTC))

    # Then one document in the stack's namespace, with the lifecycle event as the only dimension
    (document,) = printed_documents(capsys)
    assert directives(document)["Dimensions"] == [["LifecycleEvent"]]
    assert document["LifecycleEvent"] == "AfterAllowTraffic"
    assert directives(document)["Namespace"] == metrics.provider.namespace
    assert values([document]) == {
        "ValidationsPassed": [1.0],
        "TimeToVerdict": [90.5],
        "ProbesRun": [10.0],
        "ProbesFailed": [1.0],
        "ProbeLatency": [20.0, 150.0, 6.0],  # each route's mean in each stage; a metric check has none
    }
    assert units([document]) == {
        "ValidationsPassed": "Count",
        "TimeToVerdict": "Seconds",
        "ProbesRun": "Count",
        "ProbesFailed": "Count",
        "ProbeLatency": "Milliseconds",
    }
    # And the routes, the ids and the console link are properties, for Logs Insights, never metrics
    assert document["routes"][0] == {
        "stage": "smoke",
        "route": "orders",
        "probes": 3,
        "failed": 1,
        "meanLatencyMs": 150.0,
    }
    assert {(entry["stage"], entry["route"]) for entry in document["routes"]} == {
        ("smoke", "health"),
        ("smoke", "orders"),
        ("soak", "health"),
        ("soak", "green-5xx-rate"),
    }
    assert (document["executionArn"], document["deploymentId"], document["status"]) == (
        EXECUTION_ARN,
        "d-ABCDEFGHI",
        "Succeeded",
    )
    assert document["consoleUrl"].startswith("https://eu-west-1.console.aws.amazon.com/states/")


def test_route_names_never_become_dimensions_however_many_routes_a_suite_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a failed validation of 150 routes
    many = progress(("smoke", [(f"route-{n:03}", 1, n % 2, [float(n)]) for n in range(150)]))
    validation = DecidedValidation(DEPLOYMENT, HookStatus.FAILED, "over budget", False, many, STARTED, EXECUTION_ARN)

    # When its verdict is recorded
    record_decided(validation, STARTED)

    # Then every document has the one dimension, and all 150 latencies arrive (Powertools splits at 100 values)
    documents = printed_documents(capsys)
    assert len(documents) == 2
    assert all(directives(document)["Dimensions"] == [["LifecycleEvent"]] for document in documents)
    assert len(values(documents)["ProbeLatency"]) == 150
    assert values(documents)["ValidationsFailed"] == [1.0]
    assert not any(key.startswith("route-") for document in documents for key in document)
    # And the routes property names the failed routes first, at most 100 of them, counting the rest
    last = documents[-1]
    assert len(last["routes"]) == MAX_ROUTES_IN_PROPERTIES
    assert last["routesOmitted"] == 50
    assert all(entry["failed"] == 1 for entry in last["routes"][:75])


@pytest.mark.parametrize(
    ("dry_run", "verdict", "counted"),
    [
        (False, HookStatus.SUCCEEDED, "ValidationsPassed"),
        (False, HookStatus.FAILED, "ValidationsFailed"),
        (True, HookStatus.SUCCEEDED, "ValidationsPassed"),
        (True, HookStatus.FAILED, "WouldHaveFailed"),
    ],
)
def test_each_validation_counts_in_exactly_one_outcome(
    dry_run: bool, verdict: HookStatus, counted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = DecidedValidation(DEPLOYMENT, verdict, None, dry_run, None, None, EXECUTION_ARN)

    record_decided(validation, STARTED)

    (document,) = printed_documents(capsys)
    assert values([document]) == {counted: [1.0]}
    assert document["dryRun"] is dry_run


def test_the_reporter_counts_a_dry_run_that_would_have_failed_as_would_have_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the workflow's request for a dry run whose stage failed
    failed = progress(("smoke", [("health", 1, 1, [3.0])]))
    failed["outcome"], failed["reason"] = StageStatus.FAILED, "stage 'smoke': 1 failed probes, budget 0"
    request = cast(
        ReportRequest,
        {
            "deployment": DEPLOYMENT,
            "progress": failed,
            "error": None,
            "dryRun": True,
            "startedAt": "2026-11-26T10:00:00.000Z",
            "executionArn": EXECUTION_ARN,
        },
    )

    # When the reporter reports it
    report_validation(request, RecordingStatusReporter())

    # Then WouldHaveFailed counts it, not ValidationsFailed, with the reason as a property
    (document,) = printed_documents(capsys)
    counted = values([document])
    assert counted["WouldHaveFailed"] == [1.0]
    assert "ValidationsFailed" not in counted and "ValidationsPassed" not in counted
    assert counted["TimeToVerdict"][0] > 0
    assert document["reason"] == "stage 'smoke': 1 failed probes, budget 0"


def ended(deployment: Deployment | EcsDeployment, **detail: Any) -> EndedExecution:
    document = {"deployment": deployment, "suite": suite_document(stage("smoke", route("health")))}
    return EndedExecution.from_detail(
        {
            "executionArn": EXECUTION_ARN,
            "status": "TIMED_OUT",
            "error": "States.Timeout",
            "input": json.dumps(document),
            "startDate": 1795687200000,  # 2026-11-26T10:00:00Z
            **detail,
        }
    )


def test_the_safety_net_counts_an_execution_that_ended_badly_as_failed(capsys: pytest.CaptureFixture[str]) -> None:
    # When the safety net reports an execution that timed out
    report_ended_execution(ended(DEPLOYMENT), RecordingStatusReporter(), KnownFailures())

    # Then it is a failed validation of its lifecycle event; no progress survived, so no probe metrics
    (document,) = printed_documents(capsys)
    counted = values([document])
    assert counted["ValidationsFailed"] == [1.0]
    assert set(counted) == {"ValidationsFailed", "TimeToVerdict"}
    assert document["LifecycleEvent"] == "AfterAllowTraffic"
    assert document["reason"] == "execution TIMED_OUT: States.Timeout"


def test_the_safety_net_does_not_count_again_what_codedeploy_already_had(capsys: pytest.CaptureFixture[str]) -> None:
    # Given CodeDeploy already holds this hook's status, reported (and counted) by the workflow
    reporter = RecordingStatusReporter()
    reporter.report(hook_ids(DEPLOYMENT), HookStatus.FAILED)

    # When the safety net's delivery comes anyway
    report_ended_execution(ended(DEPLOYMENT), reporter, KnownFailures())

    # Then no second verdict is counted
    assert printed_documents(capsys) == []


def test_the_safety_net_counts_an_ended_ecs_validation_its_hook_will_fail(capsys: pytest.CaptureFixture[str]) -> None:
    report_ended_execution(ended(ECS_DEPLOYMENT, status="ABORTED"), RecordingStatusReporter(), KnownFailures())

    (document,) = printed_documents(capsys)
    assert values([document])["ValidationsFailed"] == [1.0]
    assert (document["LifecycleEvent"], document["deploymentId"]) == ("POST_TEST_TRAFFIC_SHIFT", "sd-7f3a")


def test_the_ecs_hook_counts_a_validation_started_at_its_first_invocation_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    starter = RecordingStarter()

    # When ECS invokes the hook first, then again twice while the validation runs
    first = answer_hook(ecs_event(), SETTINGS, starter, FakeExecutions(), NoSuites())
    arn = first["hookDetails"]["executionArn"]
    running = FakeExecutions({arn: ExecutionState(ExecutionStatus.RUNNING, None, None)})
    for _ in range(2):
        answer_hook(ecs_event(**first["hookDetails"]), SETTINGS, starter, running, NoSuites())

    # Then one validation started, at its lifecycle stage
    (document,) = printed_documents(capsys)
    assert values([document]) == {"ValidationsStarted": [1.0]}
    assert (document["LifecycleEvent"], document["executionArn"]) == ("POST_TEST_TRAFFIC_SHIFT", arn)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2026-11-26T10:00:00.123Z", datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-26T10:00:00.057469+00:00", datetime(2026, 11, 26, 10, 0, 0, 57469, tzinfo=UTC)),
        ("2026-11-26T10:00:00", datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_the_execution_start_is_read_as_step_functions_writes_it(value: Any, parsed: datetime | None) -> None:
    assert parse_start_time(value) == parsed


@pytest.mark.parametrize(("value", "parsed"), [(1795687200000, STARTED), ("1795687200000", None), (True, None)])
def test_the_safety_net_reads_the_start_from_the_events_milliseconds(value: Any, parsed: datetime | None) -> None:
    assert start_time_from_millis(value) == parsed


def test_a_start_ahead_of_the_reporters_clock_gives_no_time_to_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    validation = DecidedValidation(DEPLOYMENT, HookStatus.SUCCEEDED, None, False, None, STARTED, EXECUTION_ARN)

    record_decided(validation, datetime(2026, 11, 26, 9, 59, 59, tzinfo=UTC))

    assert "TimeToVerdict" not in values(printed_documents(capsys))


def test_an_unreadable_progress_still_counts_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    corrupted = cast(Progress, {"stages": [{"name": "smoke", "routes": [{"route": "health"}]}]})
    validation = DecidedValidation(DEPLOYMENT, HookStatus.FAILED, "unreadable", False, corrupted, None, None)

    record_decided(validation, STARTED)

    assert values(printed_documents(capsys)) == {"ValidationsFailed": [1.0]}
