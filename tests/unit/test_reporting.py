"""What the reporter returns as the execution's output, and what the safety net tells CodeDeploy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fakes import KnownFailures, RecordingStatusReporter
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import Deployment, HookStatus, TargetSummary
from tollgate_core.ports import HookIds
from tollgate_core.reporting import EndedExecution, report_ended_execution, report_validation

DEPLOYMENT: Deployment = {
    "deploymentId": "d-ABCDEFGHI",
    "lifecycleEventHookExecutionId": "hook-1",
    "lifecycleEvent": "AfterAllowTestTraffic",
}
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:validation:AfterAllowTestTraffic-1"


def ended(status: str = "FAILED", **detail: str | None) -> EndedExecution:
    return EndedExecution.from_detail(
        {"executionArn": EXECUTION_ARN, "status": status, "input": json.dumps({"deployment": DEPLOYMENT}), **detail}
    )


def test_the_output_names_the_target_the_validation_probed() -> None:
    # Given the workflow's report request for a validation of a target whose TLS was not verified
    target: TargetSummary = {"baseUrl": "https://green.internal:8443", "verifyTls": False}
    request: Any = {"deployment": DEPLOYMENT, "progress": None, "error": None, "target": target}

    # When the reporter answers it / Then the execution's output shows that target, as the console reads it
    output = report_validation(request, RecordingStatusReporter())

    assert output["target"] == target


def test_the_safety_net_reports_the_error_and_cause_the_event_carries() -> None:
    # Given an execution that ended FAILED, its event carrying Step Functions' error and cause
    reporter, describer = RecordingStatusReporter(), KnownFailures()

    # When the safety net gets it
    output = report_ended_execution(ended(error="States.Runtime", cause="index out of range"), reporter, describer)

    # Then CodeDeploy hears Failed for that deployment, and the output says why, without asking Step Functions
    assert reporter.calls == [(HookIds("d-ABCDEFGHI", "hook-1"), HookStatus.FAILED)]
    assert describer.described == []
    assert output == {
        "status": HookStatus.FAILED,
        "reason": "execution FAILED: States.Runtime: index out of range",
        "deployment": DEPLOYMENT,
        "target": None,
        "stages": [],
        "reportedStatus": HookStatus.FAILED,
        "dryRun": False,
        "consoleUrl": execution_console_url(EXECUTION_ARN),
        "codeDeploy": "recorded",
    }


@pytest.mark.parametrize(
    ("cause", "shown"),
    [("c" * 300, "c" * 300), ("c" * 301, "c" * 297 + "...")],
)
def test_the_safety_net_keeps_at_most_300_characters_of_a_cause(cause: str, shown: str) -> None:
    output = report_ended_execution(
        ended("TIMED_OUT", error="States.Timeout", cause=cause), RecordingStatusReporter(), KnownFailures()
    )

    assert output is not None
    assert output["reason"] == f"execution TIMED_OUT: States.Timeout: {shown}"


def test_a_cause_without_an_error_is_still_reported() -> None:
    output = report_ended_execution(
        ended("ABORTED", cause="stopped by an operator"), RecordingStatusReporter(), KnownFailures()
    )

    assert output is not None
    assert output["reason"] == "execution ABORTED: stopped by an operator"
