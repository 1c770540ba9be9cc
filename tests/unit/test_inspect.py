"""`tollgate inspect`'s reading of an execution into a report, against botocore's Stubber and moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.support.suites import route, stage, suite_document
from tests.unit.test_report_resolution import ECS_SERVICE_DEPLOYMENT, RESOLUTION_FIELDS
from tollgate import inspection
from tollgate.engine.edge import HistoryPages
from tollgate.history import AttemptFinished, ProgressEvent, RoundFinished
from tollgate.inspection import (
    AwsSettings,
    InspectionError,
    carries_deployment,
    console_url,
    delivered_status,
    find_validations,
    inspect_execution,
    region_of,
    state_machine_of_stack,
)
from tollgate.report import deployment_resolution
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    ProbeResult,
    Progress,
    StageStatus,
)
from tollgate_core.progress import initial_progress
from tollgate_core.suite import parse_suite

ARN = "arn:aws:states:eu-west-1:123456789012:execution:shop-tollgate-validation:AfterAllowTestTraffic-1"
STARTED = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SUITE = parse_suite(suite_document(stage("smoke", route("health"), rounds=2), stage("soak", route("orders"))))
DEPLOYMENT: Deployment = {
    "deploymentId": "d-ABCDEFGHI",
    "lifecycleEventHookExecutionId": "hook-1",
    "lifecycleEvent": "AfterAllowTestTraffic",
    "controller": Controller.CODEDEPLOY,
}
ECS_DEPLOYMENT: EcsDeployment = {
    "controller": Controller.ECS,
    "executionId": "ecs-deployment-1",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/shop/web",
    "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/shop/web/2",
    "productionWeight": 0,
}


def execution_input(deployment: Deployment | EcsDeployment = DEPLOYMENT) -> str:
    return json.dumps(
        {
            "deployment": deployment,
            "suite": SUITE.document,
            "validation": {"progress": initial_progress(SUITE.stages)},
            "error": None,
        }
    )


def probe(check: str, round_: int, ok: bool = True, stage_name: str = "smoke") -> ProbeResult:
    return {
        "stage": stage_name,
        "route": check,
        "round": round_,
        "attempts": 1,
        "ok": ok,
        "statusCode": 200 if ok else 503,
        "latencyMs": 8.0,
        "reason": None if ok else "status 503, expected 2xx",
        "final": True,
        "retryInSeconds": 0,
    }


def progress(*statuses: StageStatus) -> Progress:
    document = initial_progress(SUITE.stages)
    for stage_progress, status in zip(document["stages"], statuses, strict=True):
        stage_progress["status"] = status
    return document


class History:
    """Execution history events shaped as Step Functions records them, numbered in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = [
            self._event("ExecutionStarted", executionStartedEventDetails={"input": execution_input()})
        ]

    def _event(self, kind: str, **details: Any) -> dict[str, Any]:
        return {"timestamp": STARTED, "type": kind, "id": 1 + len(getattr(self, "events", [])), **details}

    def _exited(self, kind: str, name: str, output: Any) -> None:
        details = {"name": name, "output": json.dumps(output)}
        self.events.append(self._event(kind, stateExitedEventDetails=details))

    def attempt(self, result: ProbeResult) -> History:
        self._exited("TaskStateExited", "Probe route", {"probe": {"result": result}})
        return self

    def round(self, *results: ProbeResult) -> History:
        for result in results:
            self.attempt(result)
        self._exited("MapStateExited", "Run checks", {"roundResults": list(results)})
        return self

    def tally(self, after: Progress) -> History:
        self._exited("TaskStateExited", "Tally round", {"validation": {"progress": after}})
        return self


def summary(status: HookStatus, **more: Any) -> ExecutionOutput:
    output: ExecutionOutput = {
        "status": status,
        "reason": None,
        "deployment": DEPLOYMENT,
        "target": {"baseUrl": "http://127.0.0.1:9", "verifyTls": True},
        "stages": [],
    }
    return {**output, **more}  # type: ignore[typeddict-item]


def described(status: str, output: ExecutionOutput | None = None, **more: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "executionArn": ARN,
        "stateMachineArn": ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "status": status,
        "startDate": STARTED,
        "input": execution_input(),
        **more,
    }
    if status != "RUNNING":
        answer["stopDate"] = STARTED + timedelta(seconds=42.5)
    if output is not None:
        answer["output"] = json.dumps(output)
    return answer


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_history(stubber: Stubber, *pages: list[dict[str, Any]]) -> None:
    """The history in these pages, each page but the last leading to the next with a token."""
    for number, events in enumerate(pages):
        request: dict[str, Any] = {"executionArn": ARN, "includeExecutionData": True, "maxResults": 1000}
        if number:
            request["nextToken"] = f"page-{number}"
        response: dict[str, Any] = {"events": events}
        if number < len(pages) - 1:
            response["nextToken"] = f"page-{number + 1}"
        stubber.add_response("get_execution_history", response, request)


def test_a_finished_validation_reads_from_every_page_of_its_history_into_the_report(
    sfn: tuple[Any, Stubber],
) -> None:
    # Given an execution that succeeded, its history in two pages (the second round in the second)
    client, stubber = sfn
    history = History().round(probe("health", 1)).round(probe("health", 2)).round(probe("orders", 1, stage_name="soak"))
    stubber.add_response(
        "describe_execution", described("SUCCEEDED", summary(HookStatus.SUCCEEDED)), {"executionArn": ARN}
    )
    expect_history(stubber, history.events[:3], history.events[3:])

    # When it is inspected
    inspected = inspect_execution(client, ARN)

    # Then the report has every round's results, the delivered verdict and the execution's duration
    report = inspected.report
    assert (report["status"], report["reportedStatus"], report["reason"]) == ("Succeeded", "Succeeded", None)
    assert (report["controller"], report["executionArn"], report["durationSeconds"]) == ("CodeDeploy", ARN, 42.5)
    assert [(s["name"], [(p["route"], p["round"], p["ok"]) for p in s["probes"]]) for s in report["stages"]] == [
        ("smoke", [("health", 1, True), ("health", 2, True)]),
        ("soak", [("orders", 1, True)]),
    ]
    assert inspected.execution_status is ExecutionStatus.SUCCEEDED
    assert inspected.suite == SUITE
    assert len(inspected.history) == len(history.events)


def test_a_running_validation_reports_pending_and_its_stages_as_the_last_tally_left_them(
    sfn: tuple[Any, Stubber],
) -> None:
    # Given an execution between the two rounds of its first stage
    client, stubber = sfn
    history = History().round(probe("health", 1)).tally(progress(StageStatus.RUNNING, StageStatus.PENDING))
    stubber.add_response("describe_execution", described("RUNNING"), {"executionArn": ARN})
    expect_history(stubber, history.events)

    # When it is inspected without waiting
    inspected = inspect_execution(client, ARN)

    # Then nothing was delivered yet, and the report says so
    report = inspected.report
    assert inspected.execution_status is ExecutionStatus.RUNNING
    assert (report["status"], report["reportedStatus"]) == ("Pending", "Pending")
    assert report["reason"] == "the validation is still running"
    assert [(s["name"], s["status"], len(s["probes"])) for s in report["stages"]] == [
        ("smoke", "running", 1),
        ("soak", "pending", 0),
    ]


def test_waiting_tells_the_progress_and_reads_the_verdict_once_the_execution_ended(
    sfn: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an execution that is running its first round, and has ended when asked again
    client, stubber = sfn
    monkeypatch.setattr(inspection, "WAIT_POLL_SECONDS", 0)
    history = History().attempt(probe("health", 1))
    stubber.add_response("describe_execution", described("RUNNING"), {"executionArn": ARN})
    expect_history(stubber, history.events)
    stubber.add_response(
        "describe_execution", described("SUCCEEDED", summary(HookStatus.FAILED)), {"executionArn": ARN}
    )
    before = len(history.events)
    history.round(probe("health", 1, ok=False))
    expect_history(stubber, history.events)
    told: list[ProgressEvent] = []

    # When it is inspected with --wait
    inspected = inspect_execution(client, ARN, told.append, wait=True)

    # Then each attempt was told once, as it came, and the report has the verdict
    assert [type(event) for event in told] == [AttemptFinished, AttemptFinished, RoundFinished]
    assert len(inspected.history) == len(history.events) == before + 2
    assert (inspected.execution_status, inspected.report["reportedStatus"]) == (ExecutionStatus.SUCCEEDED, "Failed")


def test_an_execution_that_ended_without_a_summary_delivered_failed_and_says_why(sfn: tuple[Any, Stubber]) -> None:
    # Given an execution stopped by an operator in its first stage
    client, stubber = sfn
    history = History().round(probe("health", 1)).tally(progress(StageStatus.RUNNING, StageStatus.PENDING))
    stopped = described("ABORTED", error="Operator", cause="stopped by hand")
    stubber.add_response("describe_execution", stopped, {"executionArn": ARN})
    expect_history(stubber, history.events)

    # When it is inspected
    report = inspect_execution(client, ARN).report

    # Then it delivered Failed (the safety net reports it), the stage it was in was interrupted, the next skipped
    assert (report["status"], report["reportedStatus"]) == ("Failed", "Failed")
    assert report["reason"] == "execution ABORTED: Operator: stopped by hand"
    assert [s["status"] for s in report["stages"]] == ["interrupted", "skipped"]


def test_an_ecs_validation_is_reported_as_ecs(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    execution = described("SUCCEEDED", summary(HookStatus.SUCCEEDED), input=execution_input(ECS_DEPLOYMENT))
    stubber.add_response("describe_execution", execution, {"executionArn": ARN})
    expect_history(stubber, History().events)

    assert inspect_execution(client, ARN).report["controller"] == "ECS"


def test_an_execution_started_before_dry_runs_existed_reads_as_no_dry_run(sfn: tuple[Any, Stubber]) -> None:
    # Given an execution whose input's suite has no dryRun
    client, stubber = sfn
    started = json.loads(execution_input())
    del started["suite"]["dryRun"]
    execution = described("SUCCEEDED", summary(HookStatus.FAILED), input=json.dumps(started))
    stubber.add_response("describe_execution", execution, {"executionArn": ARN})
    expect_history(stubber, History().events)

    # When it is inspected / Then its verdict is what its deployment received
    report = inspect_execution(client, ARN).report

    assert (report.get("dryRun"), report["status"], report["reportedStatus"]) == (False, "Failed", "Failed")


def test_the_report_names_the_suite_source_and_what_the_deployment_resolved(sfn: tuple[Any, Stubber]) -> None:
    # Given an execution whose hook read the suite from the catalog and the target from the test listener
    client, stubber = sfn
    deployment: Deployment = {**DEPLOYMENT, **deployment_resolution(ECS_SERVICE_DEPLOYMENT)}
    output = summary(HookStatus.SUCCEEDED, deployment=deployment)
    execution = described("SUCCEEDED", output, input=execution_input(deployment))
    stubber.add_response("describe_execution", execution, {"executionArn": ARN})
    expect_history(stubber, History().events)

    # When it is inspected
    report = inspect_execution(client, ARN).report

    # Then its report names them as the hook recorded them
    assert {field: report.get(field) for field in RESOLUTION_FIELDS} == {
        field: deployment.get(field) for field in RESOLUTION_FIELDS
    }


def test_an_execution_that_ended_without_a_summary_names_them_from_its_input(sfn: tuple[Any, Stubber]) -> None:
    # Given an execution whose input carries the suite's source, stopped before its reporter wrote a summary
    client, stubber = sfn
    deployment: Deployment = {**DEPLOYMENT, **deployment_resolution(ECS_SERVICE_DEPLOYMENT)}
    stopped = described("ABORTED", input=execution_input(deployment), error="Operator", cause="stopped by hand")
    stubber.add_response("describe_execution", stopped, {"executionArn": ARN})
    expect_history(stubber, History().events)

    # When it is inspected
    report = inspect_execution(client, ARN).report

    # Then the suite's source and the deployment group are read from the input
    assert report.get("suiteSource") == ECS_SERVICE_DEPLOYMENT.get("suiteSource")
    assert (report.get("application"), report.get("deploymentGroup")) == ("orders", "orders-dg")


def test_an_execution_started_before_the_hooks_recorded_them_names_none(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_response(
        "describe_execution", described("SUCCEEDED", summary(HookStatus.FAILED)), {"executionArn": ARN}
    )
    expect_history(stubber, History().events)

    report = inspect_execution(client, ARN).report

    assert not [field for field in RESOLUTION_FIELDS if field in report]
    assert report["status"] == "Failed"


def test_an_execution_that_does_not_exist_is_named(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist")

    with pytest.raises(InspectionError, match=f"^no execution {ARN}$"):
        inspect_execution(client, ARN)


def test_an_execution_no_tollgate_hook_started_is_refused(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_response("describe_execution", described("SUCCEEDED", input='{"orderId": 7}'), {"executionArn": ARN})

    with pytest.raises(InspectionError, match="is no Tollgate validation: its input has no suite and deployment"):
        inspect_execution(client, ARN)


@pytest.mark.parametrize(
    ("status", "output", "delivered"),
    [
        (ExecutionStatus.RUNNING, None, HookStatus.PENDING),
        (ExecutionStatus.SUCCEEDED, summary(HookStatus.SUCCEEDED, codeDeploy="recorded"), HookStatus.SUCCEEDED),
        (ExecutionStatus.SUCCEEDED, summary(HookStatus.FAILED, codeDeploy="already-completed"), HookStatus.FAILED),
        (ExecutionStatus.SUCCEEDED, summary(HookStatus.FAILED, reportedStatus="Succeeded"), HookStatus.SUCCEEDED),
        (ExecutionStatus.SUCCEEDED, None, HookStatus.FAILED),
        (ExecutionStatus.FAILED, None, HookStatus.FAILED),
        (ExecutionStatus.TIMED_OUT, None, HookStatus.FAILED),
    ],
)
def test_the_delivered_status_is_what_the_execution_says_the_deployment_received(
    status: ExecutionStatus, output: ExecutionOutput | None, delivered: HookStatus
) -> None:
    assert delivered_status(status, output) == delivered


@pytest.mark.parametrize(
    ("deployment", "deployment_id", "lifecycle", "carried"),
    [
        (DEPLOYMENT, "d-ABCDEFGHI", None, True),
        (DEPLOYMENT, "d-ABCDEFGHI", "AfterAllowTestTraffic", True),
        (DEPLOYMENT, "d-ABCDEFGHI", "AfterAllowTraffic", False),
        (DEPLOYMENT, "d-OTHER", None, False),
        (ECS_DEPLOYMENT, "ecs-deployment-1", None, True),
        (ECS_DEPLOYMENT, "ecs-deployment-1", "POST_TEST_TRAFFIC_SHIFT", True),
        (ECS_DEPLOYMENT, "ecs-deployment-1", "PRODUCTION_TRAFFIC_SHIFT", False),
        (ECS_DEPLOYMENT, "hook-1", None, False),
    ],
)
def test_a_deployment_is_found_by_its_codedeploy_or_ecs_id_and_its_lifecycle(
    deployment: Deployment | EcsDeployment, deployment_id: str, lifecycle: str | None, carried: bool
) -> None:
    assert carries_deployment(deployment, deployment_id, lifecycle) is carried


def test_the_validations_of_a_deployment_are_found_among_recent_executions_newest_first() -> None:
    with mock_aws():
        # Given a state machine that validated two lifecycle events of one deployment, another deployment,
        # an ECS deployment, and ran something else
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        state_machine = sfn.create_state_machine(
            name="shop-tollgate-validation",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/shop-tollgate",
        )["stateMachineArn"]

        def start(name: str, execution_input: str) -> str:
            return str(
                sfn.start_execution(stateMachineArn=state_machine, name=name, input=execution_input)["executionArn"]
            )

        test_traffic = start("test-traffic", execution_input())
        start("other", execution_input({**DEPLOYMENT, "deploymentId": "d-OTHER"}))
        start("not-tollgate", '{"orderId": 7}')
        traffic = start("traffic", execution_input({**DEPLOYMENT, "lifecycleEvent": "AfterAllowTraffic"}))
        ecs = start("ecs", execution_input(ECS_DEPLOYMENT))

        # When they are looked for / Then each search finds what carries its deployment, the newest first
        assert [found.arn for found in find_validations(sfn, state_machine, "d-ABCDEFGHI")] == [traffic, test_traffic]
        (event,) = find_validations(sfn, state_machine, "d-ABCDEFGHI", "AfterAllowTestTraffic")
        assert (event.arn, event.lifecycle, event.status) == (test_traffic, "AfterAllowTestTraffic", "RUNNING")
        assert [found.arn for found in find_validations(sfn, state_machine, "ecs-deployment-1")] == [ecs]
        assert find_validations(sfn, state_machine, "d-NONE") == []
        # and the scan reaches only the most recent executions
        assert [found.arn for found in find_validations(sfn, state_machine, "d-ABCDEFGHI", scan=2)] == [traffic]
        assert find_validations(sfn, state_machine, "d-ABCDEFGHI", scan=1) == []


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stack(*outputs: tuple[str, str]) -> dict[str, Any]:
    return {
        "StackName": "shop-tollgate",
        "CreationTime": STARTED,
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs],
    }


def test_the_state_machine_is_the_stacks_output(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:shop-tollgate-validation"
    outputs = [
        ("EcsHookFunctionArn", "arn:aws:lambda:eu-west-1:123456789012:function:x"),
        ("ValidationStateMachineArn", machine),
    ]
    stubber.add_response("describe_stacks", {"Stacks": [stack(*outputs)]}, {"StackName": "shop-tollgate"})

    assert state_machine_of_stack(client, "shop-tollgate") == machine


def test_a_stack_without_the_output_is_no_tollgate_stack(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", {"Stacks": [stack()]}, {"StackName": "shop-tollgate"})

    with pytest.raises(InspectionError, match=r"^stack shop-tollgate has no output ValidationStateMachineArn: is it a"):
        state_machine_of_stack(client, "shop-tollgate")


def test_a_stack_that_does_not_exist_is_cloudformations_error(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id shop does not exist")

    with pytest.raises(InspectionError, match="Stack with id shop does not exist"):
        state_machine_of_stack(client, "shop")


@pytest.mark.parametrize(
    ("endpoint_url", "linked"),
    [
        (None, True),
        ("https://states.eu-west-1.amazonaws.com", True),
        ("https://vpce-0a1b2c3d-4e5f6a7b.states.eu-west-1.vpce.amazonaws.com", True),
        ("http://127.0.0.1:4599", False),
        ("http://localhost:8083", False),
    ],
)
def test_the_console_is_linked_only_for_an_execution_on_aws(endpoint_url: str | None, linked: bool) -> None:
    url = console_url(ARN, AwsSettings(endpoint_url=endpoint_url))

    assert url == (execution_console_url(ARN) if linked else None)
    assert url is None or "region=eu-west-1" in url


def test_an_arn_names_its_region() -> None:
    assert (region_of(ARN), region_of("not-an-arn"), region_of("arn:aws:iam::123456789012:role/x")) == (
        "eu-west-1",
        None,
        None,
    )


def test_the_engines_history_pages_continue_where_the_last_ended_and_forget_finished_listings() -> None:
    # Given a history of five events that the engine behind the edge returned whole, served two at a time
    pages = HistoryPages(listings_kept=1)
    events: list[Any] = [{"id": n} for n in range(1, 6)]

    def following(page: dict[str, Any]) -> dict[str, Any]:
        kept = pages.kept(page["nextToken"])
        assert kept is not None
        listing, offset, _ = kept
        return pages.next(listing, events, offset, 2)

    # When a client pages through it
    first = pages.first(events, 2)
    second = following(first)
    last = following(second)

    # Then the pages are the history in order, the last without a token, and the finished listing is forgotten
    assert [[event["id"] for event in page["events"]] for page in (first, second, last)] == [[1, 2], [3, 4], [5]]
    assert "nextToken" not in last
    listing = first["nextToken"].split(":")[1]
    assert pages.kept(second["nextToken"]) == (listing, 4, None)  # read from the engine again if asked
    # and a listing beyond those kept is forgotten too, while a token the edge never made is refused
    third = pages.first(events, 2)
    pages.first(events, 2)
    assert pages.kept(third["nextToken"]) == (third["nextToken"].split(":")[1], 2, None)
    assert pages.kept("tollgate-edge:listing:not-an-offset") is None
