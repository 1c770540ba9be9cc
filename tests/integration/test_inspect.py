"""`tollgate inspect` against the embedded engine's endpoint, as it reads executions on AWS.

The engine's edge serves Step Functions (its history a page at a time, as AWS does) and CloudFormation's
DescribeStacks for its own stack, so the same calls find and read a validation here as on AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from junitparser import JUnitXml

from tests.support.aws_environment import local_credentials
from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService, closed_port_url
from tests.support.workflow_scenarios import NO_WAIT_RETRY, Workflow
from tollgate.cli import main
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import RunOutcome
from tollgate.report import build_report
from tollgate_core.suite import parse_suite

__all__ = ["local_credentials"]  # a fixture: every test here runs with it
pytestmark = pytest.mark.usefixtures("local_credentials")

ROUTES = 30  # x 3 rounds: about 1,200 history events, more than one page of GetExecutionHistory's largest (1000)
STACK = "tollgate-local"


@dataclass(frozen=True)
class Validated:
    outcome: RunOutcome
    document: dict[str, Any]
    target: str
    deployment_id: str

    @property
    def arn(self) -> str:
        assert self.outcome.execution_arn is not None
        return self.outcome.execution_arn


@pytest.fixture(scope="module")
def long_validation(engine: LocalEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Validated]:
    """A passing validation whose history is longer than one page."""
    routes = {f"/items/{n}": Behaviour() for n in range(ROUTES)}
    checks = [route(f"item-{n}", f"/items/{n}") for n in range(ROUTES)]
    document = suite_document(stage("soak", *checks, rounds=3))
    with TargetService(routes) as target:
        outcome = Workflow(engine, tmp_path_factory.mktemp("long")).run(document, target.url)
    assert outcome.reported_status == "Succeeded"
    yield Validated(outcome, document, target.url, _deployment_id(outcome))


def _deployment_id(outcome: RunOutcome) -> str:
    assert outcome.history[0]["type"] == "ExecutionStarted"
    execution_input = json.loads(outcome.history[0]["executionStartedEventDetails"]["input"])
    return str(execution_input["deployment"]["deploymentId"])


def inspect(engine: LocalEngine, *arguments: str) -> int:
    return main(["inspect", *arguments, "--endpoint-url", engine.edge.url])


def test_an_execution_is_read_from_every_page_of_its_history_into_the_report_run_made(
    engine: LocalEngine, long_validation: Validated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a validation whose history the engine serves in more than one page
    sfn = engine.client("stepfunctions")
    first_page = sfn.get_execution_history(executionArn=long_validation.arn, maxResults=1000)
    assert len(first_page["events"]) == 1000 and first_page.get("nextToken")
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"

    # When it is inspected by its ARN
    code = inspect(engine, long_validation.arn, "--report-json", str(report_path), "--junit", str(junit_path))

    # Then the exit code, the table and the report are those of the run, every round of every route included
    assert code == 0
    printed = capsys.readouterr().out
    assert f"execution {long_validation.arn}" in printed
    assert "CodeDeploy recorded Succeeded" in printed
    assert "console:" not in printed  # the engine's executions have no page in the Step Functions console
    report = json.loads(report_path.read_text(encoding="utf-8"))
    suite = parse_suite(long_validation.document).with_base_url(long_validation.target)
    ran = build_report(long_validation.outcome, suite)
    assert {key: report[key] for key in ("status", "reportedStatus", "reason", "executionArn", "target", "stages")} == {
        key: ran[key] for key in ("status", "reportedStatus", "reason", "executionArn", "target", "stages")
    }
    assert [p["round"] for p in report["stages"][0]["probes"]] == [1] * ROUTES + [2] * ROUTES + [3] * ROUTES
    # and a CI system reads the same results from the JUnit file
    junit = JUnitXml.fromfile(str(junit_path))
    assert (junit.tests, junit.failures, junit.skipped) == (3 * ROUTES, 0, 0)


def test_a_validation_is_found_by_its_stack_and_deployment_id(
    engine: LocalEngine, long_validation: Validated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the engine's stack, whose outputs name its state machine as on AWS
    stacks = engine.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0]["Outputs"]}
    assert outputs["ValidationStateMachineArn"] == engine.state_machine.arn
    report_path = tmp_path / "report.json"

    # When a deployment's validation is looked for by the deployment id, at its lifecycle event
    code = inspect(
        engine,
        *("--stack", STACK, "--deployment-id", long_validation.deployment_id),
        *("--lifecycle-event", "AfterAllowTestTraffic", "--region", "us-east-1", "--report-json", str(report_path)),
    )

    # Then it is that deployment's execution
    assert code == 0, capsys.readouterr().err
    assert json.loads(report_path.read_text(encoding="utf-8"))["executionArn"] == long_validation.arn


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{arn}-gone"], "no execution {arn}-gone"),
        (
            ["--stack", "someone-elses", "--deployment-id", "{deployment}", "--region", "us-east-1"],
            "Stack with id someone-elses does not exist",
        ),
        (
            ["--stack", STACK, "--deployment-id", "d-NOSUCHONE", "--region", "us-east-1"],
            "no validation of deployment d-NOSUCHONE among the 1000 most recent executions of arn:aws:states:",
        ),
        (
            ["--stack", STACK, "--deployment-id", "{deployment}", "--lifecycle-event", "AfterAllowTraffic"],
            "no validation of deployment {deployment} at AfterAllowTraffic",
        ),
    ],
)
def test_what_cannot_be_found_exits_2_saying_what(
    engine: LocalEngine,
    long_validation: Validated,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    names = {"arn": long_validation.arn, "deployment": long_validation.deployment_id}

    code = inspect(engine, *[argument.format(**names) for argument in arguments])

    assert code == 2
    assert message.format(**names) in capsys.readouterr().err


def test_a_failed_validation_exits_1_with_its_reason_in_every_report(
    engine: LocalEngine, workflow: Workflow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a validation that failed: nothing listens at its target
    document = suite_document(stage("smoke", route("health")), stage("soak", route("health")), retry=NO_WAIT_RETRY)
    outcome = workflow.run(document, closed_port_url())
    assert outcome.execution_arn is not None
    junit_path = tmp_path / "junit.xml"

    # When it is inspected
    code = inspect(engine, outcome.execution_arn, "--junit", str(junit_path), "--quiet")

    # Then it exits 1, saying why, and the JUnit file has the failure and the stage that never ran
    assert code == 1
    printed = " ".join(capsys.readouterr().out.split())  # as read, whatever the terminal's width
    assert "CodeDeploy recorded Failed" in printed
    reason = "stage 'smoke': 1 failed probes, budget 0; health (round 1): connection refused"
    assert f"reason: {reason}" in printed
    junit = {suite.name: suite for suite in JUnitXml.fromfile(str(junit_path))}
    assert (junit["smoke"].failures, junit["soak"].skipped) == (1, 1)
    assert [result.message for case in junit["smoke"] for result in case.result] == ["connection refused"]


def test_a_running_validation_exits_3_and_with_wait_exits_with_its_verdict(
    engine: LocalEngine, workflow: Workflow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a validation waiting between its two rounds
    with TargetService({"/health": Behaviour()}) as target:
        document = suite_document(stage("soak", route("health"), rounds=2, intervalSeconds=2), base_url=target.url)
        _, arn = workflow.start_hook(document)
        _wait_for_state(engine, arn, "Wait before next round")
        report_path = tmp_path / "report.json"

        # When it is inspected
        running = inspect(engine, arn, "--report-json", str(report_path))

        # Then it is still running: exit 3, nothing delivered, its first round in the report
        assert running == 3
        assert "still running" in capsys.readouterr().out
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert (report["reportedStatus"], report["reason"]) == ("Pending", "the validation is still running")
        assert [(s["status"], [p["round"] for p in s["probes"]]) for s in report["stages"]] == [("running", [1])]

        # When it is inspected again, waiting for the verdict
        waited = inspect(engine, arn, "--wait")

    # Then the progress is printed as `run` prints it, and the exit code is the verdict's
    assert waited == 0
    printed = capsys.readouterr().out
    assert "stage soak" in printed
    assert "waiting 2 s before round 2" in printed
    assert printed.count("health") >= 2
    assert "CodeDeploy recorded Succeeded" in printed


def _wait_for_state(engine: LocalEngine, arn: str, state: str) -> None:
    sfn = engine.client("stepfunctions")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        if any(event.get("stateEnteredEventDetails", {}).get("name") == state for event in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{state} never entered")


def test_the_local_cloudformation_refuses_other_stacks_and_actions_as_aws_does(engine: LocalEngine) -> None:
    cloudformation = engine.client("cloudformation")

    with pytest.raises(ClientError) as missing:
        cloudformation.describe_stacks(StackName="someone-elses")
    with pytest.raises(ClientError) as unserved:
        cloudformation.list_stacks()

    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert missing.value.response["Error"]["Message"] == "Stack with id someone-elses does not exist"
    assert unserved.value.response["Error"]["Code"] == "InvalidAction"
    (stack,) = cloudformation.describe_stacks()["Stacks"]
    assert (stack["StackName"], stack["StackStatus"]) == (STACK, "CREATE_COMPLETE")
    assert cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackName"] == STACK


def test_the_history_pages_together_are_the_whole_history(engine: LocalEngine, long_validation: Validated) -> None:
    sfn = engine.client("stepfunctions")

    pages = list(sfn.get_paginator("get_execution_history").paginate(executionArn=long_validation.arn))

    assert [len(page["events"]) for page in pages[:-1]] == [100] * (len(pages) - 1)
    events = [event["id"] for page in pages for event in page["events"]]
    assert events == [event["id"] for event in long_validation.outcome.history]
