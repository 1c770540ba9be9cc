"""The ECS lifecycle hook's answers, with the workflow's ports as in-memory fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.fakes import NoSuites, RecordingStarter
from tests.support.suites import route, stage, suite_document
from tollgate_core.contracts import EcsDeployment, EcsHookAnswer, ExecutionOutput, ExecutionStatus
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.ports import ExecutionFailure, ExecutionState
from tollgate_core.settings import EcsHookSettings

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:validation"  # as RecordingStarter names
SUITES_DIR = Path(__file__).resolve().parents[2] / "functions" / "suites"
SETTINGS = EcsHookSettings(STATE_MACHINE_ARN, SUITES_DIR, "http://10.0.0.1:8080", 3300)
GREEN = "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web/222"
BLUE = "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web/111"


def ecs_event(stage_name: str = "POST_TEST_TRAFFIC_SHIFT", production: int = 0, test: int = 100, **details: Any) -> Any:
    return {
        "executionId": "sd-7f3a",
        "lifecycleStage": stage_name,
        "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/sd-7f3a",
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web",
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": {GREEN: test, BLUE: 100 - test},
            "productionTrafficWeights": {GREEN: production, BLUE: 100 - production},
        },
        "hookDetails": details,
    }


class FakeExecutions:
    """A Step Functions that knows where each execution stands."""

    def __init__(self, states: dict[str, ExecutionState] | None = None) -> None:
        self.states = states or {}

    def read(self, execution_arn: str) -> ExecutionState:
        return self.states[execution_arn]


def summary(status: str, reason: str | None = None) -> ExecutionOutput:
    output: Any = {"status": status, "reason": reason, "deployment": {}, "target": None, "stages": []}
    return output  # type: ignore[no-any-return]


def answer(event: Any, starter: Any = None, reader: Any = None) -> EcsHookAnswer:
    return answer_hook(event, SETTINGS, starter or RecordingStarter(), reader or FakeExecutions(), NoSuites())


def test_the_first_invocation_starts_a_validation_and_asks_ecs_to_come_back() -> None:
    # Given a blue/green deployment whose test traffic now reaches the new revision
    starter = RecordingStarter()

    # When ECS invokes the hook at POST_TEST_TRAFFIC_SHIFT
    result = answer(ecs_event(), starter)

    # Then one validation of the stage's bundled suite runs, for ECS, against the configured target
    ((name, document),) = starter.started.items()
    assert result["hookStatus"] == "IN_PROGRESS"
    assert result["hookDetails"]["executionArn"].endswith(f":execution:validation:{name}")
    assert 5 <= result["callBackDelay"] <= 30
    assert document["deployment"] == {
        "controller": "ECS",
        "executionId": "sd-7f3a",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/shop/web",
        "targetServiceRevisionArn": GREEN,
        "productionWeight": 0,
        "suiteSource": {"kind": "file", "location": str(SUITES_DIR / "after-allow-test-traffic.yaml")},
    }
    assert document["suite"]["target"]["baseUrl"] == "http://10.0.0.1:8080"
    assert name.startswith("ECS-POST_TEST_TRAFFIC_SHIFT-0-") and len(name) <= 80


def test_concurrent_first_invocations_start_one_validation_and_both_follow_it() -> None:
    starter = RecordingStarter()

    first, second = answer(ecs_event(), starter), answer(ecs_event(), starter)

    assert len(starter.started) == 1
    assert first["hookDetails"]["executionArn"] == second["hookDetails"]["executionArn"]
    assert second["hookStatus"] == "IN_PROGRESS"


def test_each_traffic_step_of_a_linear_deployment_is_its_own_validation() -> None:
    starter = RecordingStarter()

    arns = [
        answer(ecs_event("PRODUCTION_TRAFFIC_SHIFT", production=weight), starter)["hookDetails"]["executionArn"]
        for weight in (33, 67, 100)
    ]

    assert len(set(arns)) == 3
    deployments = [cast(EcsDeployment, document["deployment"]) for document in starter.started.values()]
    assert [deployment["productionWeight"] for deployment in deployments] == [33, 67, 100]


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        (ExecutionState(ExecutionStatus.RUNNING, None, None), "IN_PROGRESS", None),
        (ExecutionState(ExecutionStatus.SUCCEEDED, summary("Succeeded"), None), "SUCCEEDED", "validation passed"),
        (
            ExecutionState(ExecutionStatus.SUCCEEDED, summary("Failed", "stage 'smoke': 1 failed probes"), None),
            "FAILED",
            "stage 'smoke': 1 failed probes",
        ),
        (
            ExecutionState(ExecutionStatus.TIMED_OUT, None, ExecutionFailure("States.Timeout", None)),
            "FAILED",
            "execution TIMED_OUT: States.Timeout",
        ),
        (ExecutionState(ExecutionStatus.ABORTED, None, None), "FAILED", "execution ABORTED"),
        (ExecutionState(ExecutionStatus.SUCCEEDED, None, None), "FAILED", "the validation ended without a verdict"),
    ],
)
def test_later_invocations_answer_from_the_execution(state: ExecutionState, status: str, reason: str | None) -> None:
    # Given a validation the first invocation started, now in the given state
    arn = f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:v1"
    starter = RecordingStarter()

    # When ECS invokes the hook again, with the hookDetails it returned
    result = answer(ecs_event(executionArn=arn, pollSeconds=7), starter, FakeExecutions({arn: state}))

    # Then its answer is the execution's verdict, naming the execution, and nothing new starts
    assert (result["hookStatus"], result["hookDetails"].get("reason")) == (status, reason)
    assert result["hookDetails"]["executionArn"] == arn
    assert starter.started == {}
    if status == "IN_PROGRESS":
        assert result["callBackDelay"] == 7


@pytest.mark.parametrize("stage_name", ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])
def test_a_rollback_invocation_succeeds_at_once_without_validating(stage_name: str) -> None:
    # Given ECS rolling back: the new revision's weight back at 0
    starter = RecordingStarter()

    result = answer(ecs_event(stage_name, production=0, test=0), starter)

    assert result["hookStatus"] == "SUCCEEDED"
    assert "never blocks a rollback" in result["hookDetails"]["reason"]
    assert starter.started == {}


def test_a_stage_with_nothing_to_validate_succeeds_at_once() -> None:
    starter = RecordingStarter()

    result = answer(ecs_event("PRE_SCALE_UP", test=0), starter)

    assert (result["hookStatus"], result["hookDetails"]["reason"]) == (
        "SUCCEEDED",
        "nothing to validate at PRE_SCALE_UP",
    )
    assert starter.started == {}


def test_an_inline_suite_and_target_from_the_hook_configuration_are_validated_as_given() -> None:
    starter = RecordingStarter()
    inline = suite_document(stage("canary", route("health")))

    result = answer(ecs_event("PRE_SCALE_UP", suite=inline, targetBaseUrl="http://green.internal:8080"), starter)

    ((document),) = starter.started.values()
    assert result["hookStatus"] == "IN_PROGRESS"
    assert [s["name"] for s in document["suite"]["stages"]] == ["canary"]
    assert document["suite"]["target"]["baseUrl"] == "http://green.internal:8080"


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        (
            {"suite": suite_document(stage("smoke", route("health", expect={"status": "2x"})))},
            "invalid suite: stages[0].routes[0].expect.status: must be",
        ),
        ({"suite": "../../etc/passwd"}, "invalid suite: hookDetails.suite: '../../etc/passwd' is no bundled suite"),
        ({"suite": "no-such-suite"}, "invalid suite: cannot read the file"),
        (
            {"suite": 7},
            "invalid suite: hookDetails.suite: must be a bundled suite's name, an s3:// URI or a suite object",
        ),
        ({"targetBaseUrl": ["x"]}, "invalid suite: hookDetails.targetBaseUrl: must be a URL"),
    ],
)
def test_a_bad_hook_configuration_fails_the_stage_saying_why(details: dict[str, Any], reason: str) -> None:
    starter = RecordingStarter()

    result = answer(ecs_event(**details), starter)

    assert result["hookStatus"] == "FAILED"
    assert result["hookDetails"]["reason"].startswith(reason), result
    assert starter.started == {}


class RefusingStarter:
    def start(self, name: str, document: Any) -> str:
        raise RuntimeError("AccessDeniedException: not allowed to start")


class BrokenReader:
    def read(self, execution_arn: str) -> ExecutionState:
        raise ConnectionError("endpoint unreachable")


def test_our_own_failures_are_failed_answers_never_exceptions() -> None:
    refused = answer(ecs_event(), RefusingStarter())
    unreadable = answer(ecs_event(executionArn="arn:aws:states:x"), reader=BrokenReader())

    assert (refused["hookStatus"], refused["hookDetails"]["reason"]) == (
        "FAILED",
        "the hook failed: RuntimeError: AccessDeniedException: not allowed to start",
    )
    assert (unreadable["hookStatus"], unreadable["hookDetails"]["reason"]) == (
        "FAILED",
        "the hook failed: ConnectionError: endpoint unreachable",
    )


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (None, "(event): expected an object, got NoneType"),
        ([], "(event): expected an object, got list"),
        ({}, "executionDetails: expected an object"),
        ({**ecs_event(), "executionId": ""}, "executionId: missing or not text"),
        ({**ecs_event(), "lifecycleStage": 3}, "lifecycleStage: missing or not text"),
        ({**ecs_event(), "hookDetails": "suite"}, "hookDetails: expected an object, got str"),
        (
            {**ecs_event(), "executionDetails": {"targetServiceRevisionArn": GREEN, "productionTrafficWeights": []}},
            "executionDetails.productionTrafficWeights: expected an object, got list",
        ),
    ],
)
def test_a_malformed_event_fails_naming_the_field(event: Any, field: str) -> None:
    result = answer(event)

    assert result["hookStatus"] == "FAILED"
    assert result["hookDetails"]["reason"].startswith(f"malformed ECS hook event: {field}")
    json.dumps(result)
