"""Each Lambda handler with a fake context and AWS clients stubbed by botocore's Stubber."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import FakeLambdaContext
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate_core.aws import CodeDeployStatusReporter, StepFunctionsDescriber, StepFunctionsStarter
from tollgate_core.aws_deployment import CodeDeployDeploymentReader, ElbListenerReader, S3SuiteStore
from tollgate_core.execution_name import execution_name
from tollgate_core.validation_start import DeploymentSources, ValidationNotStarted

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:validation"
HOOK_EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "eyJ" + "h" * 297}
NAME = execution_name("AfterAllowTestTraffic", HOOK_EVENT["LifecycleEventHookExecutionId"])
EXECUTION_ARN = f"arn:aws:states:us-east-1:123456789012:execution:validation:{NAME}"


def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A client whose every call must have been expected, and every expected call made."""
    aws_client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(aws_client) as stubber:
        yield aws_client, stubber
        stubber.assert_no_pending_responses()


def expect_status(stubber: Stubber, status: str, error: str | None = None) -> None:
    params = {
        "deploymentId": HOOK_EVENT["DeploymentId"],
        "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
        "status": status,
    }
    if error:
        stubber.add_client_error("put_lifecycle_event_hook_execution_status", error, expected_params=params)
    else:
        stubber.add_response("put_lifecycle_event_hook_execution_status", {}, params)


@pytest.fixture
def codedeploy() -> Iterator[tuple[Any, Stubber]]:
    yield from stubbed("codedeploy")


@pytest.fixture
def stepfunctions() -> Iterator[tuple[Any, Stubber]]:
    yield from stubbed("stepfunctions")


def load_handler(module: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(importlib.import_module(module))


@pytest.fixture
def hook_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    codedeploy: tuple[Any, Stubber],
    stepfunctions: tuple[Any, Stubber],
) -> ModuleType:
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))
    app = load_handler(
        "hook.app",
        monkeypatch,
        SUITE_PATH=str(suite),
        LIFECYCLE_EVENT="AfterAllowTestTraffic",
        STATE_MACHINE_ARN=STATE_MACHINE_ARN,
        TARGET_BASE_URL="http://127.0.0.1:8080",
    )
    # A bundled suite aimed at a URL reads nothing more: every call to these stubbed clients would fail the test.
    sources = DeploymentSources(
        S3SuiteStore(stubbed_client("s3")),
        CodeDeployDeploymentReader(codedeploy[0]),
        ElbListenerReader(stubbed_client("elbv2")),
    )
    adapters = (
        StepFunctionsStarter(STATE_MACHINE_ARN, stepfunctions[0]),
        CodeDeployStatusReporter(codedeploy[0]),
        sources,
    )
    monkeypatch.setattr(app, "_adapters", lambda: adapters)
    return app


def stubbed_client(service: str) -> Any:
    """A client that answers nothing: any call raises."""
    aws_client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    Stubber(aws_client).activate()
    return aws_client


class JsonDocument:
    """Equal to a JSON text that decodes to the expected document, whatever its key order and spacing."""

    def __init__(self, expected: dict[str, Any]) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and json.loads(other) == self.expected

    def __hash__(self) -> int:
        return hash(json.dumps(self.expected, sort_keys=True))

    def __repr__(self) -> str:
        return f"JsonDocument({self.expected!r})"


DEFAULT_RETRY = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 2.0}
# What the console shows for the one-route suite of `hook_app`: every default filled in, the target overridden.
EXPECTED_INPUT: dict[str, Any] = {
    "deployment": {
        "deploymentId": HOOK_EVENT["DeploymentId"],
        "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
        "lifecycleEvent": "AfterAllowTestTraffic",
        "controller": "CodeDeploy",
    },
    "suite": {
        "version": 1,
        "target": {"baseUrl": "http://127.0.0.1:8080", "headers": {}, "timeoutSeconds": 2, "verifyTls": True},
        "retry": DEFAULT_RETRY,
        "maxConcurrency": 10,
        "dryRun": False,
        "stages": [
            {
                "name": "smoke",
                "rounds": 1,
                "intervalSeconds": 0,
                "maxFailedProbes": 0,
                "checks": [
                    {
                        "kind": "route",
                        "name": "health",
                        "path": "/health",
                        "method": "GET",
                        "headers": {},
                        "body": None,
                        "followRedirects": False,
                        "allowRedirectHosts": [],
                        "retry": DEFAULT_RETRY,
                        "expect": {"status": ["2xx"]},
                    }
                ],
            }
        ],
    },
    "validation": {
        "progress": {
            "stageIndex": 0,
            "round": 1,
            "next": "next-stage",
            "waitSeconds": 0,
            "outcome": "running",
            "reason": None,
            "stages": [
                {
                    "name": "smoke",
                    "status": "pending",
                    "rounds": 1,
                    "intervalSeconds": 0,
                    "maxFailedProbes": 0,
                    "roundsRun": 0,
                    "probes": 0,
                    "failedProbes": 0,
                    "routes": [],
                }
            ],
        }
    },
    "error": None,
}


def test_hook_starts_one_execution_with_the_deployment_and_the_resolved_suite(
    hook_app: ModuleType, stepfunctions: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    # Given Step Functions accepts exactly this execution: its name from the hook id, its input the whole suite
    # and the bundled file it came from
    source = {"kind": "file", "location": hook_app.SETTINGS.suite_path}
    expected = {**EXPECTED_INPUT, "deployment": {**EXPECTED_INPUT["deployment"], "suiteSource": source}}
    stepfunctions[1].add_response(
        "start_execution",
        {"executionArn": EXECUTION_ARN, "startDate": "2026-01-01T00:00:00Z"},
        {"stateMachineArn": STATE_MACHINE_ARN, "name": NAME, "input": JsonDocument(expected)},
    )

    # When CodeDeploy invokes the hook
    result = hook_app.handler(HOOK_EVENT, lambda_context)

    # Then one execution started, named from the hook execution id
    assert result == {"started": True, "executionName": NAME, "executionArn": EXECUTION_ARN}


def test_hook_input_carries_ids_event_target_and_suite(hook_app: ModuleType, tmp_path: Path) -> None:
    from tests.support.fakes import nothing_to_read
    from tollgate_core.ports import HookIds
    from tollgate_core.validation_start import prepared_input

    # A bundled suite aimed at the stack's target reads nothing from AWS
    document = prepared_input(HookIds("d-1", "h-1"), hook_app.SETTINGS, nothing_to_read())

    assert document["deployment"] == {
        "deploymentId": "d-1",
        "lifecycleEventHookExecutionId": "h-1",
        "lifecycleEvent": "AfterAllowTestTraffic",
        "controller": "CodeDeploy",
        "suiteSource": {"kind": "file", "location": hook_app.SETTINGS.suite_path},
    }
    assert document["suite"]["target"]["baseUrl"] == "http://127.0.0.1:8080"
    assert document["suite"]["stages"][0]["checks"][0]["name"] == "health"
    assert document["error"] is None


def test_the_hook_counts_the_validation_it_started_once_per_lifecycle_event(
    hook_app: ModuleType,
    stepfunctions: tuple[Any, Stubber],
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given Step Functions starts the execution once, then refuses the name to a repeated invocation
    stepfunctions[1].add_response(
        "start_execution", {"executionArn": EXECUTION_ARN, "startDate": "2026-01-01T00:00:00Z"}
    )
    stepfunctions[1].add_client_error("start_execution", "ExecutionAlreadyExists")

    # When CodeDeploy invokes the hook twice
    hook_app.handler(HOOK_EVENT, lambda_context)
    hook_app.handler(HOOK_EVENT, lambda_context)

    # Then the EMF documents printed count one validation started, for this lifecycle event
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [(document["LifecycleEvent"], document["ValidationsStarted"]) for document in documents] == [
        ("AfterAllowTestTraffic", [1.0])
    ]
    assert documents[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["LifecycleEvent"]]


def test_a_repeated_hook_invocation_starts_nothing_and_reports_nothing(
    hook_app: ModuleType, stepfunctions: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    stepfunctions[1].add_client_error("start_execution", "ExecutionAlreadyExists")

    result = hook_app.handler(HOOK_EVENT, lambda_context)

    assert result == {"started": False, "executionName": NAME, "executionArn": None}


def test_hook_reports_failed_when_the_execution_cannot_start(
    hook_app: ModuleType,
    stepfunctions: tuple[Any, Stubber],
    codedeploy: tuple[Any, Stubber],
    lambda_context: FakeLambdaContext,
) -> None:
    # Given Step Functions refuses the execution
    stepfunctions[1].add_client_error("start_execution", "AccessDeniedException")
    expect_status(codedeploy[1], "Failed")

    # When the hook runs / Then it reports Failed (the stub checks) and fails loudly
    with pytest.raises(ValidationNotStarted, match="AccessDeniedException"):
        hook_app.handler(HOOK_EVENT, lambda_context)


def test_hook_reports_failed_for_an_invalid_suite(
    hook_app: ModuleType, codedeploy: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    Path(hook_app.SETTINGS.suite_path).write_text("version: 1\nstages: []\n", encoding="utf-8")
    expect_status(codedeploy[1], "Failed")

    with pytest.raises(ValidationNotStarted, match=r"stages: \[\] should be non-empty"):
        hook_app.handler(HOOK_EVENT, lambda_context)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"DeploymentId": "d-1"},
        {"DeploymentId": "", "LifecycleEventHookExecutionId": "x"},
        {"DeploymentId": "d-1", "LifecycleEventHookExecutionId": 7},
        ["d-1", "x"],
    ],
)
def test_a_hook_event_without_both_ids_is_rejected_without_a_retry(
    hook_app: ModuleType, event: Any, lambda_context: FakeLambdaContext
) -> None:
    result = hook_app.handler(event, lambda_context)

    assert result["started"] is False
    assert "DeploymentId" in result["reason"]


@pytest.fixture
def reporter_app(
    monkeypatch: pytest.MonkeyPatch, codedeploy: tuple[Any, Stubber], stepfunctions: tuple[Any, Stubber]
) -> ModuleType:
    app = load_handler("reporter.app", monkeypatch)
    reporter, describer = CodeDeployStatusReporter(codedeploy[0]), StepFunctionsDescriber(stepfunctions[0])
    monkeypatch.setattr(app, "_reporter", lambda: reporter)
    monkeypatch.setattr(app, "_describer", lambda: describer)
    return app


def passed_progress() -> dict[str, Any]:
    stage_progress = {
        "name": "smoke",
        "status": "passed",
        "rounds": 1,
        "intervalSeconds": 0,
        "maxFailedProbes": 0,
        "roundsRun": 1,
        "probes": 1,
        "failedProbes": 0,
        "routes": [],
    }
    return {
        "stageIndex": 0,
        "round": 1,
        "next": "report",
        "waitSeconds": 0,
        "outcome": "passed",
        "reason": None,
        "stages": [stage_progress],
    }


DEPLOYMENT = {
    "deploymentId": HOOK_EVENT["DeploymentId"],
    "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
    "lifecycleEvent": "AfterAllowTestTraffic",
}


def test_reporter_sends_succeeded_and_returns_the_summary(
    reporter_app: ModuleType, codedeploy: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    expect_status(codedeploy[1], "Succeeded")

    summary = reporter_app.handler(
        {"deployment": DEPLOYMENT, "progress": passed_progress(), "error": None}, lambda_context
    )

    assert (summary["status"], summary["codeDeploy"], summary["stages"][0]["status"]) == (
        "Succeeded",
        "recorded",
        "passed",
    )


def test_reporter_sends_failed_for_a_workflow_error(
    reporter_app: ModuleType, codedeploy: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    expect_status(codedeploy[1], "Failed")
    error = {"Error": "Lambda.Unknown", "Cause": "tally crashed"}

    summary = reporter_app.handler(
        {"deployment": DEPLOYMENT, "progress": passed_progress(), "error": error}, lambda_context
    )

    assert summary["reason"] == "workflow error Lambda.Unknown: tally crashed"


def test_an_already_completed_hook_is_success_not_an_error(
    reporter_app: ModuleType, codedeploy: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    expect_status(codedeploy[1], "Succeeded", error="LifecycleEventAlreadyCompletedException")

    summary = reporter_app.handler(
        {"deployment": DEPLOYMENT, "progress": passed_progress(), "error": None}, lambda_context
    )

    assert summary["codeDeploy"] == "already-completed"


def status_change(
    status: str, execution_input: Any = None, error: str | None = "States.Timeout", cause: str | None = None
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [EXECUTION_ARN],
        "detail": {
            "executionArn": EXECUTION_ARN,
            "status": status,
            "input": json.dumps(execution_input if execution_input is not None else {"deployment": DEPLOYMENT}),
            "error": error,
            "cause": cause,
        },
    }


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_the_safety_net_reports_failed_for_an_execution_that_ended_badly(
    status: str, reporter_app: ModuleType, codedeploy: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    expect_status(codedeploy[1], "Failed")

    summary = reporter_app.handler(status_change(status), lambda_context)

    assert summary["reason"] == f"execution {status}: States.Timeout"


def test_the_safety_net_reads_the_error_and_cause_from_the_execution_when_the_event_lacks_them(
    reporter_app: ModuleType,
    codedeploy: tuple[Any, Stubber],
    stepfunctions: tuple[Any, Stubber],
    lambda_context: FakeLambdaContext,
) -> None:
    # Given an execution that died on its payload limit, and an event that carries no error or cause
    cause = "The state/task 'Prepare round' returned a result with a size exceeding the maximum number of bytes"
    stepfunctions[1].add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "FAILED",
            "startDate": "2026-01-01T00:00:00Z",
            "error": "States.DataLimitExceeded",
            "cause": cause,
        },
        {"executionArn": EXECUTION_ARN},
    )
    expect_status(codedeploy[1], "Failed")

    # When the safety net delivers the event
    summary = reporter_app.handler(status_change("FAILED", error=None), lambda_context)

    # Then CodeDeploy hears Failed, and the reason is Step Functions' own
    assert summary["reason"] == f"execution FAILED: States.DataLimitExceeded: {cause}"


def test_the_safety_net_reports_without_a_cause_when_the_execution_cannot_be_described(
    reporter_app: ModuleType,
    codedeploy: tuple[Any, Stubber],
    stepfunctions: tuple[Any, Stubber],
    lambda_context: FakeLambdaContext,
) -> None:
    stepfunctions[1].add_client_error("describe_execution", "AccessDeniedException")
    expect_status(codedeploy[1], "Failed")

    summary = reporter_app.handler(status_change("ABORTED", error=None), lambda_context)

    assert summary["reason"] == "execution ABORTED"


def test_the_safety_net_ignores_executions_that_succeeded_or_carry_no_ids(
    reporter_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    assert reporter_app.handler(status_change("SUCCEEDED"), lambda_context) is None
    assert reporter_app.handler(status_change("FAILED", {"no": "ids"}), lambda_context) is None


def test_probe_handler_checks_a_real_service(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    app = load_handler("probe.app", monkeypatch, PROBE_BODY_CAP_BYTES="1024")
    with TargetService({"/health": Behaviour(body={"status": "ok"})}) as target:
        event = {
            "stage": "smoke",
            "round": 2,
            "probe": {"result": {"attempts": 0}},
            "target": {"baseUrl": target.url, "headers": {}, "timeoutSeconds": 1, "verifyTls": True},
            "route": {
                "name": "health",
                "path": "/health",
                "method": "GET",
                "headers": {},
                "body": None,
                "followRedirects": False,
                "expect": {"status": ["2xx"], "json": {"$.status": "ok"}},
                "retry": {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 2.0},
            },
        }

        result = app.handler(event, lambda_context)

    assert (result["ok"], result["round"], result["statusCode"]) == (True, 2, 200)


def test_tally_handler_advances_the_progress(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    app = load_handler("tally.app", monkeypatch)
    progress = {**passed_progress(), "outcome": "running", "next": "next-stage"}
    progress["stages"][0].update(status="pending", roundsRun=0, probes=0)
    result = {
        "stage": "smoke",
        "route": "health",
        "round": 1,
        "attempts": 1,
        "ok": True,
        "statusCode": 200,
        "latencyMs": 1.0,
        "reason": None,
    }

    advanced = app.handler({"progress": progress, "results": [result]}, lambda_context)

    assert (advanced["next"], advanced["outcome"]) == ("report", "passed")


ECS_DEPLOYMENT = {
    "controller": "ECS",
    "executionId": "sd-7f3a",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web",
    "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web/222",
    "productionWeight": 0,
}


def test_the_reporter_tells_codedeploy_nothing_about_an_ecs_validation(
    reporter_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    # Given an ECS validation that passed (the CodeDeploy stub accepts no call)
    request = {"deployment": ECS_DEPLOYMENT, "progress": passed_progress(), "error": None}

    # When the workflow reports
    summary = reporter_app.handler(request, lambda_context)

    # Then the verdict is the execution's output, for the ECS hook to read, and CodeDeploy heard nothing
    assert summary["status"] == "Succeeded"
    assert summary["deployment"] == ECS_DEPLOYMENT
    assert "codeDeploy" not in summary


def test_the_safety_net_leaves_an_ended_ecs_validation_to_its_hook(
    reporter_app: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    assert reporter_app.handler(status_change("FAILED", {"deployment": ECS_DEPLOYMENT}), lambda_context) is None


def test_the_ecs_hook_starts_the_validation_and_answers_in_progress(
    monkeypatch: pytest.MonkeyPatch, stepfunctions: tuple[Any, Stubber], lambda_context: FakeLambdaContext
) -> None:
    from tollgate_core.ecs_hook import EcsHookEvent, validation_name

    # Given the ECS hook function, and Step Functions that accepts the execution
    app = load_handler(
        "ecs_hook.app",
        monkeypatch,
        STATE_MACHINE_ARN=STATE_MACHINE_ARN,
        SUITES_DIR=str(Path(__file__).resolve().parents[2] / "functions" / "suites"),
        TARGET_BASE_URL="http://127.0.0.1:8080",
    )
    adapters = (
        StepFunctionsStarter(STATE_MACHINE_ARN, stepfunctions[0]),
        StepFunctionsDescriber(stepfunctions[0]),
        S3SuiteStore(stubbed_client("s3")),
    )
    monkeypatch.setattr(app, "_adapters", lambda: adapters)
    event = {
        "executionId": "sd-7f3a",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/sd-7f3a",
        "executionDetails": {
            "serviceArn": ECS_DEPLOYMENT["serviceArn"],
            "targetServiceRevisionArn": ECS_DEPLOYMENT["targetServiceRevisionArn"],
            "testTrafficWeights": {ECS_DEPLOYMENT["targetServiceRevisionArn"]: 100},
            "productionTrafficWeights": {},
        },
    }
    name = validation_name(EcsHookEvent.from_event(event))
    arn = f"arn:aws:states:us-east-1:123456789012:execution:validation:{name}"
    bundled = str(Path(app.SETTINGS.suites_dir) / "after-allow-test-traffic.yaml")
    stepfunctions[1].add_response(
        "start_execution",
        {"executionArn": arn, "startDate": "2026-01-01T00:00:00Z"},
        {
            "stateMachineArn": STATE_MACHINE_ARN,
            "name": name,
            "input": ExecutionInputFor({**ECS_DEPLOYMENT, "suiteSource": {"kind": "file", "location": bundled}}),
        },
    )

    # When ECS invokes it, and again with something that is no ECS event
    answer = app.handler(event, lambda_context)
    malformed = app.handler({"DeploymentId": "d-1"}, lambda_context)

    # Then it answers IN_PROGRESS with the execution, and FAILED with a reason: never an exception
    assert (answer["hookStatus"], answer["hookDetails"]["executionArn"]) == ("IN_PROGRESS", arn)
    assert (malformed["hookStatus"], malformed["hookDetails"]["reason"]) == (
        "FAILED",
        "malformed ECS hook event: executionDetails: expected an object, got NoneType",
    )


class ExecutionInputFor:
    """Equal to an execution input (JSON text) for this deployment."""

    def __init__(self, deployment: dict[str, Any]) -> None:
        self.deployment = deployment

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and json.loads(other)["deployment"] == self.deployment

    def __hash__(self) -> int:
        return hash(json.dumps(self.deployment, sort_keys=True))
