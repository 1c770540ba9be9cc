"""The ECS hook in detail: which invocation is a rollback, how ECS is asked back, what a FAILED answer says."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fakes import NoSuites, RecordingStarter
from tests.support.suites import route, stage, suite_document
from tests.unit.test_ecs_hook import GREEN, SETTINGS, STATE_MACHINE_ARN, FakeExecutions, answer, ecs_event, summary
from tollgate_core.contracts import ExecutionStatus
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.ports import ExecutionState
from tollgate_core.settings import EcsHookSettings

EXECUTION_ARN = f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:v1"
RUNNING = ExecutionState(ExecutionStatus.RUNNING, None, None)
# Five rounds 25 s apart of one route that may take 2 s: 110 s at worst, so ECS is asked back every 11 s.
SOAK_110_SECONDS = suite_document(
    stage("soak", route("health", retry={"maxAttempts": 1}), rounds=5, intervalSeconds=25),
    base_url="http://10.0.0.1:8080",
)


@pytest.mark.parametrize(
    ("stage_name", "production", "test", "status", "reason"),
    [
        ("TEST_TRAFFIC_SHIFT", 0, 0, "SUCCEEDED", "rollback at TEST_TRAFFIC_SHIFT: Tollgate never blocks a rollback"),
        ("TEST_TRAFFIC_SHIFT", 0, 100, "SUCCEEDED", "nothing to validate at TEST_TRAFFIC_SHIFT"),
        (
            "PRODUCTION_TRAFFIC_SHIFT",
            0,
            100,
            "SUCCEEDED",
            "rollback at PRODUCTION_TRAFFIC_SHIFT: Tollgate never blocks a rollback",
        ),
        ("PRODUCTION_TRAFFIC_SHIFT", 33, 0, "IN_PROGRESS", None),
    ],
)
def test_a_rollback_is_read_from_the_weight_of_the_traffic_the_stage_shifts(
    stage_name: str, production: int, test: int, status: str, reason: str | None
) -> None:
    # Given ECS at a traffic shift, the new revision holding the given shares of production and test traffic
    starter = RecordingStarter()

    # When it invokes the hook
    result = answer(ecs_event(stage_name, production=production, test=test), starter)

    # Then only a shift that leaves the new revision none of that stage's traffic is a rollback
    assert (result["hookStatus"], result["hookDetails"].get("reason")) == (status, reason)
    assert len(starter.started) == (1 if status == "IN_PROGRESS" else 0)


def test_a_production_shift_without_production_weights_is_a_rollback() -> None:
    event = ecs_event("PRODUCTION_TRAFFIC_SHIFT", production=50)
    del event["executionDetails"]["productionTrafficWeights"]

    result = answer(event)

    assert result["hookStatus"] == "SUCCEEDED"


def test_ecs_is_asked_back_at_the_same_pace_for_as_long_as_the_validation_runs() -> None:
    # Given a suite that takes 110 s at worst, and ECS handing back each answer's hookDetails
    reader = FakeExecutions()

    # When ECS invokes the hook three times
    first = answer(ecs_event(suite=SOAK_110_SECONDS), RecordingStarter(), reader)
    reader.states[first["hookDetails"]["executionArn"]] = RUNNING
    second = answer(ecs_event(suite=SOAK_110_SECONDS, **first["hookDetails"]), reader=reader)
    third = answer(ecs_event(suite=SOAK_110_SECONDS, **second["hookDetails"]), reader=reader)

    # Then every answer asks it back after a tenth of the worst case, and carries that pace on
    for result in (first, second, third):
        assert result["hookStatus"] == "IN_PROGRESS"
        assert result["callBackDelay"] == 11
        assert result["hookDetails"] == {
            "executionArn": first["hookDetails"]["executionArn"],
            "pollSeconds": 11,
            "dryRun": False,
        }


@pytest.mark.parametrize("poll_seconds", [None, "7", 7.5, True])
def test_a_pace_that_is_no_whole_number_of_seconds_falls_back_to_five(poll_seconds: Any) -> None:
    reader = FakeExecutions({EXECUTION_ARN: RUNNING})

    result = answer(ecs_event(executionArn=EXECUTION_ARN, pollSeconds=poll_seconds), reader=reader)

    assert (result["callBackDelay"], result["hookDetails"]) == (
        5,
        {"executionArn": EXECUTION_ARN, "pollSeconds": 5, "dryRun": False},
    )


@pytest.mark.parametrize("execution_arn", ["", 7, None])
def test_hook_details_without_an_execution_start_a_validation(execution_arn: Any) -> None:
    starter = RecordingStarter()

    result = answer(ecs_event(executionArn=execution_arn), starter)

    assert result["hookStatus"] == "IN_PROGRESS"
    assert len(starter.started) == 1


def test_a_verdict_without_a_reason_still_says_the_validation_did_not_pass() -> None:
    reader = FakeExecutions({EXECUTION_ARN: ExecutionState(ExecutionStatus.SUCCEEDED, summary("Failed"), None)})

    result = answer(ecs_event(executionArn=EXECUTION_ARN), reader=reader)

    assert (result["hookStatus"], result["hookDetails"]["reason"]) == ("FAILED", "the validation did not pass")


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("stage 'soak':\n  3 failed probes", "stage 'soak': 3 failed probes"),
        ("r" * 500, "r" * 500),
        ("r" * 501, "r" * 497 + "..."),
    ],
)
def test_a_failed_answer_gives_its_reason_on_one_line_of_at_most_500_characters(reason: str, shown: str) -> None:
    reader = FakeExecutions({EXECUTION_ARN: ExecutionState(ExecutionStatus.SUCCEEDED, summary("Failed", reason), None)})

    result = answer(ecs_event(executionArn=EXECUTION_ARN), reader=reader)

    assert result["hookDetails"] == {"executionArn": EXECUTION_ARN, "dryRun": False, "reason": shown}


def test_every_problem_of_an_inline_suite_is_named() -> None:
    inline = suite_document(stage("smoke", route("a"), route("a"), maxFailedProbes=2))

    result = answer(ecs_event(suite=inline))

    assert result["hookDetails"]["reason"] == (
        "invalid suite: stages[0].routes[1].name: 'a' is used twice; stages[0].maxFailedProbes: 2 lets all 2 "
        "probes of the stage fail; it must be smaller than rounds x (routes + metrics)"
    )


@pytest.mark.parametrize("configuration", [{}, {"suite": "after-allow-test-traffic"}])
def test_a_bundled_suite_longer_than_the_hook_budget_fails_the_stage(configuration: dict[str, Any]) -> None:
    # Given a hook allowed 60 s, and the bundled suite of the stage, which may take 94 s
    settings = EcsHookSettings(STATE_MACHINE_ARN, SETTINGS.suites_dir, SETTINGS.target_base_url, 60)

    result = answer_hook(ecs_event(**configuration), settings, RecordingStarter(), FakeExecutions(), NoSuites())

    assert result["hookDetails"]["reason"] == (
        "invalid suite: (suite): worst-case duration 94 s exceeds the hook's time budget of 60 s; "
        "reduce rounds, intervals, retries or timeouts"
    )


@pytest.mark.parametrize(
    ("resource_arn", "service_arn"),
    [
        (
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/sd-7f3a",
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/sd-7f3a",
        ),
        (None, ""),
    ],
)
def test_the_service_is_named_by_the_deployment_when_the_details_do_not_name_it(
    resource_arn: str | None, service_arn: str
) -> None:
    # Given an event whose executionDetails lack the service
    starter = RecordingStarter()
    event = {**ecs_event(), "resourceArn": resource_arn}
    del event["executionDetails"]["serviceArn"]

    # When the hook starts the validation
    answer(event, starter)

    # Then the validation's deployment names the service deployment ECS invoked the hook for, if any
    ((document,),) = [starter.started.values()]
    assert document["deployment"].get("serviceArn") == service_arn


def weights(value: Any) -> Any:
    event = ecs_event()
    event["executionDetails"]["testTrafficWeights"] = {GREEN: value}
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            {**ecs_event(), "executionDetails": {"serviceArn": "arn:aws:ecs:x"}},
            "executionDetails.targetServiceRevisionArn: missing or not text",
        ),
        (
            {**ecs_event(), "lifecycleStage": "POST_" + "X" * 60},
            f"lifecycleStage: {'POST_' + 'X' * 35!r} is no ECS lifecycle stage",
        ),
        (weights(True), f"executionDetails.testTrafficWeights: the weight of {GREEN} is not a number"),
        (weights("100"), f"executionDetails.testTrafficWeights: the weight of {GREEN} is not a number"),
    ],
)
def test_a_malformed_event_fails_with_the_field_and_what_is_wrong(event: Any, reason: str) -> None:
    result = answer(event)

    assert (result["hookStatus"], result["hookDetails"]) == (
        "FAILED",
        {"reason": f"malformed ECS hook event: {reason}"},
    )
