"""Dry runs: the validation runs in full and decides, the deployment always receives Succeeded, and everything
a person reads says what the verdict would have been and why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from tests.support.fakes import KnownFailures, RecordingStarter, RecordingStatusReporter
from tests.support.suites import route, stage, suite_document
from tests.unit.test_ecs_hook import FakeExecutions, answer, ecs_event
from tollgate.console import print_verdict
from tollgate.local_run import RunOutcome
from tollgate.report import RunReport, build_report
from tollgate_core.aws import CodeDeployStatusReporter
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import (
    Controller,
    Deployment,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    NextStep,
    Progress,
    ReportRequest,
    StageStatus,
)
from tollgate_core.ports import ExecutionFailure, ExecutionState
from tollgate_core.reporting import EndedExecution, report_ended_execution, report_validation
from tollgate_core.suite import SuiteError, parse_suite

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:validation:AfterAllowTestTraffic-1"
DEPLOYMENT: Deployment = {
    "deploymentId": "d-ABCDEFGHI",
    "lifecycleEventHookExecutionId": "hook-1",
    "lifecycleEvent": "AfterAllowTestTraffic",
    "controller": Controller.CODEDEPLOY,
}
REASON = "stage 'smoke': 1 failed probes, budget 0; health (round 1): status 503, expected 2xx"


def smoke_progress(outcome: StageStatus) -> Progress:
    failed = 1 if outcome == StageStatus.FAILED else 0
    return {
        "stageIndex": 0,
        "round": 1,
        "next": NextStep.REPORT,
        "waitSeconds": 0,
        "outcome": outcome,
        "reason": REASON if failed else None,
        "stages": [
            {
                "name": "smoke",
                "status": outcome,
                "rounds": 1,
                "intervalSeconds": 0,
                "maxFailedProbes": 0,
                "roundsRun": 1,
                "probes": 1,
                "failedProbes": failed,
                "routes": [],
            }
        ],
    }


def request(outcome: StageStatus, dry_run: bool = True) -> ReportRequest:
    return {
        "deployment": DEPLOYMENT,
        "target": {"baseUrl": "http://127.0.0.1:8080", "verifyTls": True},
        "progress": smoke_progress(outcome),
        "error": None,
        "dryRun": dry_run,
        "startedAt": "2026-11-26T10:00:00Z",
        "executionArn": EXECUTION_ARN,
    }


@pytest.fixture
def codedeploy() -> Iterator[Stubber]:
    client = boto3.client("codedeploy", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_status(stubber: Stubber, status: str) -> CodeDeployStatusReporter:
    params = {"deploymentId": "d-ABCDEFGHI", "lifecycleEventHookExecutionId": "hook-1", "status": status}
    stubber.add_response("put_lifecycle_event_hook_execution_status", {}, params)
    return CodeDeployStatusReporter(stubber.client)


# --- the suite ------------------------------------------------------------------------------------------


def test_a_suite_is_no_dry_run_unless_it_says_so() -> None:
    plain = parse_suite(suite_document(stage("smoke", route("health"))))
    dry = parse_suite(suite_document(stage("smoke", route("health")), dryRun=True))

    assert (plain.document["dryRun"], dry.document["dryRun"]) == (False, True)
    assert (plain.dry_run, dry.dry_run) == (False, True)


def test_a_dry_run_flag_that_is_not_a_boolean_is_named() -> None:
    with pytest.raises(SuiteError) as invalid:
        parse_suite(suite_document(stage("smoke", route("health")), dryRun="yes"))

    assert invalid.value.problems == ["dryRun: 'yes' is not of type 'boolean'"]


# --- the reporter ---------------------------------------------------------------------------------------


def test_a_dry_run_that_would_have_failed_reports_succeeded_and_says_why_it_would_have_failed(
    codedeploy: Stubber,
) -> None:
    # Given a dry run whose smoke stage failed, and a CodeDeploy that accepts exactly Succeeded (the stub checks)
    reporter = expect_status(codedeploy, "Succeeded")

    # When the workflow reports
    output = report_validation(request(StageStatus.FAILED), reporter)

    # Then the output keeps the verdict apart from what CodeDeploy received, and links the execution
    assert output["status"] == HookStatus.FAILED
    assert output["reason"] == REASON
    assert (output["reportedStatus"], output["codeDeploy"]) == (HookStatus.SUCCEEDED, "recorded")
    assert (output["dryRun"], output["wouldHaveFailed"]) == (True, True)
    assert output["consoleUrl"] == execution_console_url(EXECUTION_ARN)


def test_a_dry_run_that_passed_says_so(codedeploy: Stubber) -> None:
    output = report_validation(request(StageStatus.PASSED), expect_status(codedeploy, "Succeeded"))

    assert (output["status"], output["reportedStatus"], output["wouldHaveFailed"]) == (
        HookStatus.SUCCEEDED,
        HookStatus.SUCCEEDED,
        False,
    )


def test_without_dry_run_codedeploy_receives_the_verdict(codedeploy: Stubber) -> None:
    output = report_validation(request(StageStatus.FAILED, dry_run=False), expect_status(codedeploy, "Failed"))

    assert (output["status"], output["reportedStatus"], output["dryRun"]) == (
        HookStatus.FAILED,
        HookStatus.FAILED,
        False,
    )
    assert "wouldHaveFailed" not in output


def test_a_request_from_before_dry_runs_reports_the_verdict() -> None:
    # Given a request as the workflow sent it before it carried dryRun, startedAt and executionArn
    reporter = RecordingStatusReporter()
    old = cast(ReportRequest, {"deployment": DEPLOYMENT, "progress": smoke_progress(StageStatus.FAILED), "error": None})

    output = report_validation(old, reporter)

    assert [status for _, status in reporter.calls] == [HookStatus.FAILED]
    assert (output["dryRun"], "consoleUrl" in output) == (False, False)


def ended(execution_input: dict[str, Any]) -> EndedExecution:
    return EndedExecution.from_detail(
        {
            "executionArn": EXECUTION_ARN,
            "status": "TIMED_OUT",
            "error": "States.Timeout",
            "input": json.dumps(execution_input),
        }
    )


def test_the_safety_net_lets_a_dry_run_through_and_says_it_would_have_failed(codedeploy: Stubber) -> None:
    # Given a dry run's execution that timed out before any verdict
    execution = ended({"deployment": DEPLOYMENT, "suite": {"dryRun": True}})

    # When the safety net reports it / Then CodeDeploy receives Succeeded (the stub checks): a dry run never blocks
    output = report_ended_execution(execution, expect_status(codedeploy, "Succeeded"), KnownFailures())

    # And the output says the validation failed, and why
    assert output is not None
    assert (output["status"], output["reason"]) == (HookStatus.FAILED, "execution TIMED_OUT: States.Timeout")
    assert (output["reportedStatus"], output["dryRun"], output["wouldHaveFailed"]) == (HookStatus.SUCCEEDED, True, True)


@pytest.mark.parametrize("suite", [None, {"dryRun": "true"}, {}])
def test_the_safety_net_reports_failed_unless_the_input_says_dry_run(suite: Any, codedeploy: Stubber) -> None:
    execution_input = {"deployment": DEPLOYMENT} if suite is None else {"deployment": DEPLOYMENT, "suite": suite}

    output = report_ended_execution(ended(execution_input), expect_status(codedeploy, "Failed"), KnownFailures())

    assert output is not None
    assert (output["reportedStatus"], output["dryRun"]) == (HookStatus.FAILED, False)


# --- the ECS hook ---------------------------------------------------------------------------------------

ECS_ARN = "arn:aws:states:us-east-1:123456789012:execution:validation:v1"


def dry_run_output(status: str, reason: str | None) -> ExecutionOutput:
    output: Any = {
        "status": status,
        "reason": reason,
        "deployment": {},
        "target": None,
        "stages": [],
        "reportedStatus": "Succeeded",
        "dryRun": True,
        "wouldHaveFailed": status == "Failed",
    }
    return cast(ExecutionOutput, output)


def test_the_ecs_hook_answers_succeeded_for_a_dry_run_that_would_have_failed() -> None:
    # Given a dry run's execution whose output holds a Failed verdict
    state = ExecutionState(ExecutionStatus.SUCCEEDED, dry_run_output("Failed", REASON), None)

    # When ECS invokes the hook again
    result = answer(ecs_event(executionArn=ECS_ARN, dryRun=True), reader=FakeExecutions({ECS_ARN: state}))

    # Then ECS goes on, told what would have failed and why
    assert result["hookStatus"] == "SUCCEEDED"
    assert result["hookDetails"]["reason"] == f"dry run: the validation would have failed: {REASON}"
    assert (result["hookDetails"]["dryRun"], result["hookDetails"]["wouldHaveFailed"]) == (True, True)


def test_the_ecs_hook_says_a_dry_run_passed_without_calling_it_a_pass_of_the_deployment() -> None:
    state = ExecutionState(ExecutionStatus.SUCCEEDED, dry_run_output("Succeeded", None), None)

    result = answer(ecs_event(executionArn=ECS_ARN, dryRun=True), reader=FakeExecutions({ECS_ARN: state}))

    assert (result["hookStatus"], result["hookDetails"]["reason"]) == ("SUCCEEDED", "dry run: the validation passed")
    assert result["hookDetails"]["wouldHaveFailed"] is False


@pytest.mark.parametrize(("dry_run", "status"), [(True, "SUCCEEDED"), (False, "FAILED")])
def test_a_validation_that_ended_badly_fails_the_stage_unless_the_hook_started_it_as_a_dry_run(
    dry_run: bool, status: str
) -> None:
    state = ExecutionState(ExecutionStatus.TIMED_OUT, None, ExecutionFailure("States.Timeout", None))

    result = answer(ecs_event(executionArn=ECS_ARN, dryRun=dry_run), reader=FakeExecutions({ECS_ARN: state}))

    assert result["hookStatus"] == status
    assert result["hookDetails"]["reason"].endswith("execution TIMED_OUT: States.Timeout")


def test_only_the_suite_makes_an_ecs_validation_a_dry_run() -> None:
    # Given a hook configuration that carries a dryRun key beside a suite that is no dry run, and one that is
    plain = suite_document(stage("smoke", route("health")))
    dry = suite_document(stage("smoke", route("health")), dryRun=True)

    # When ECS invokes the hook first with each
    from_plain = answer(ecs_event(suite=plain, dryRun=True), RecordingStarter())
    from_dry = answer(ecs_event(suite=dry), RecordingStarter())

    # Then the hook's answer, which ECS hands back over the configuration's keys, says what the suite says
    assert (from_plain["hookDetails"]["dryRun"], from_dry["hookDetails"]["dryRun"]) == (False, True)


# --- the run report and the terminal --------------------------------------------------------------------


def dry_run_report(summary: ExecutionOutput | None, execution_status: str = "SUCCEEDED") -> RunReport:
    suite = parse_suite(suite_document(stage("smoke", route("health")), dryRun=True))
    outcome = RunOutcome(HookStatus.SUCCEEDED, EXECUTION_ARN, 2.5, summary, None, execution_status)
    report: RunReport = json.loads(json.dumps(build_report(outcome, suite)))
    return report


def test_the_run_report_of_a_dry_run_gives_the_would_be_verdict_beside_what_codedeploy_recorded() -> None:
    report = dry_run_report(dry_run_output("Failed", REASON))

    assert (report["dryRun"], report["status"], report["reportedStatus"]) == (True, "Failed", "Succeeded")
    assert report["reason"] == REASON


def test_a_dry_run_without_a_verdict_is_reported_as_one_that_would_have_failed() -> None:
    report = dry_run_report(None, execution_status="TIMED_OUT")

    assert (report["status"], report["reportedStatus"]) == ("Failed", "Succeeded")
    assert report["reason"] == "execution TIMED_OUT"


def printed(report: RunReport) -> list[str]:
    console = Console(record=True, width=200)
    print_verdict(console, report)
    return console.export_text().splitlines()


def test_the_terminal_leads_with_the_would_be_verdict_of_a_dry_run() -> None:
    lines = printed(dry_run_report(dry_run_output("Failed", REASON)))

    assert lines[0] == "DRY RUN: the validation would have FAILED"
    assert lines[1] == (
        "CodeDeploy recorded Succeeded after 2.5 s only because the suite sets dryRun: true: "
        "this deployment was not gated"
    )
    assert lines[2] == f"reason: {REASON}"


def test_the_terminal_says_a_passed_dry_run_gated_nothing() -> None:
    lines = printed(dry_run_report(dry_run_output("Succeeded", None)))

    assert lines == [
        "DRY RUN: the validation passed",
        "CodeDeploy recorded Succeeded after 2.5 s; with dryRun: true its verdict gated nothing",
    ]
