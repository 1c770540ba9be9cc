"""The local ECS deployment with a scripted hook: which stages and steps it calls, how it waits, how it rolls back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.ecs_hooks import (
    FakeClock,
    ScriptedHook,
    answering,
    deploy,
    new_revision_test_weight,
    production_weight,
    validating,
)
from tollgate.engine.ecs import DeploymentStatus, Strategy
from tollgate.engine.lambda_runtime import Invocation
from tollgate_core.contracts import EcsHookStatus, LifecycleStage

Stage = LifecycleStage


def first_calls(hook: ScriptedHook) -> list[tuple[str, float]]:
    """Each stage's (or step's) first call: the ones without an execution yet."""
    return [
        call
        for call, event in zip(hook.calls(), hook.events, strict=True)
        if "executionArn" not in event["hookDetails"]
    ]


def test_blue_green_calls_every_configured_stage_in_ecs_order_and_succeeds() -> None:
    # Given a hook configured at every stage
    hook = ScriptedHook()

    # When ECS deploys blue/green
    deployment = deploy(hook)

    # Then every stage was validated once, in order, production traffic moving once
    assert first_calls(hook) == [
        ("RECONCILE_SERVICE", 0),
        ("PRE_SCALE_UP", 0),
        ("POST_SCALE_UP", 0),
        ("TEST_TRAFFIC_SHIFT", 0),
        ("POST_TEST_TRAFFIC_SHIFT", 0),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 0),
        ("PRODUCTION_TRAFFIC_SHIFT", 100),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", 100),
    ]
    assert deployment.status is DeploymentStatus.SUCCESSFUL
    assert deployment.reason is None
    assert [run.hook_status for run in deployment.runs] == [EcsHookStatus.SUCCEEDED] * 8
    assert len(deployment.invocations) == 16
    assert deployment.rollback_runs == []


def test_only_the_configured_stages_are_called() -> None:
    hook = ScriptedHook()

    deploy(hook, (Stage.POST_TEST_TRAFFIC_SHIFT,))

    assert {event["lifecycleStage"] for event in hook.events} == {"POST_TEST_TRAFFIC_SHIFT"}


@pytest.mark.parametrize(
    ("strategy", "steps", "weights"),
    [
        (Strategy.LINEAR, 3, [33.3, 66.7, 100]),
        (Strategy.LINEAR, 4, [25, 50, 75, 100]),
        (Strategy.CANARY, 3, [10, 100]),
        (Strategy.BLUE_GREEN, 3, [100]),
    ],
)
def test_the_traffic_stages_recur_at_every_step_with_the_production_weight_rising(
    strategy: Strategy, steps: int, weights: list[float]
) -> None:
    # Given a hook at both stages that recur per traffic step
    hook = ScriptedHook()

    # When ECS deploys with this strategy
    deployment = deploy(hook, (Stage.PRE_PRODUCTION_TRAFFIC_SHIFT, Stage.PRODUCTION_TRAFFIC_SHIFT), strategy, steps)

    # Then each step is announced at the previous weight, then validated at its own
    before = [0, *weights[:-1]]
    expected = [
        call
        for previous, weight in zip(before, weights, strict=True)
        for call in (("PRE_PRODUCTION_TRAFFIC_SHIFT", previous), ("PRODUCTION_TRAFFIC_SHIFT", weight))
    ]
    assert first_calls(hook) == expected
    assert [(run.planned.step, run.planned.production_weight) for run in deployment.runs][1::2] == list(
        enumerate(weights, start=1)
    )
    assert deployment.status is DeploymentStatus.SUCCESSFUL


def test_an_in_progress_hook_is_called_again_after_its_callback_delay_scaled() -> None:
    # Given a hook that asks for 5 s, then 12 s, then names no delay, then succeeds
    hook = answering(
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 5},
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 12},
        {"hookStatus": "IN_PROGRESS"},
        {"hookStatus": "SUCCEEDED"},
    )
    clock = FakeClock()

    # When ECS runs its stage, waits compressed by the default scale (0.05)
    deployment = deploy(hook, (Stage.POST_TEST_TRAFFIC_SHIFT,), clock=clock)

    # Then it waited each delay (ECS's 30 s default for the third) times the scale, and called four times
    assert clock.waits == pytest.approx([0.25, 0.6, 1.5])
    assert [call.callback_delay_seconds for call in deployment.invocations] == [5, 12, 30, None]
    assert deployment.runs[0].hook_status is EcsHookStatus.SUCCEEDED


def test_hook_details_are_the_configuration_merged_with_what_the_hook_returned_last() -> None:
    # Given a hook configured with details, which returns details of its own while in progress
    stage_answers: list[dict[str, Any]] = [
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {"executionArn": "a", "suite": "mine"}},
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {"polls": 1}},
        {"hookStatus": "SUCCEEDED", "hookDetails": {}},
    ]
    hook = answering(*stage_answers, *stage_answers)

    # When ECS runs two stages
    deploy(
        hook,
        (Stage.POST_TEST_TRAFFIC_SHIFT, Stage.PRODUCTION_TRAFFIC_SHIFT),
        hook_details={"suite": "smoke", "targetBaseUrl": "http://127.0.0.1:9"},
    )

    # Then each call carries the configuration, overridden by the previous answer of the same stage only
    configured = {"suite": "smoke", "targetBaseUrl": "http://127.0.0.1:9"}
    assert [event["hookDetails"] for event in hook.events] == [
        configured,
        {**configured, "executionArn": "a", "suite": "mine"},
        {**configured, "polls": 1},
    ] * 2


def test_every_event_has_ecs_shape_with_the_deployment_ids() -> None:
    hook = ScriptedHook()

    deployment = deploy(hook, (Stage.TEST_TRAFFIC_SHIFT, Stage.PRODUCTION_TRAFFIC_SHIFT))

    target, source = deployment.target_revision_arn, deployment.source_revision_arn
    assert hook.events[0] == {
        "executionId": deployment.deployment_id,
        "lifecycleStage": "TEST_TRAFFIC_SHIFT",
        "resourceArn": deployment.resource_arn,
        "executionDetails": {
            "serviceArn": deployment.service_arn,
            "targetServiceRevisionArn": target,
            "testTrafficWeights": {source: 0, target: 100},
            "productionTrafficWeights": {source: 100, target: 0},
        },
        "hookDetails": {},
    }
    assert deployment.resource_arn.startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/")
    assert deployment.resource_arn.endswith("/" + deployment.deployment_id)
    assert {event["executionId"] for event in hook.events} == {deployment.deployment_id}


@pytest.mark.parametrize(
    ("invocation", "reason"),
    [
        (
            Invocation(b'{"errorType": "Runtime.ImportModuleError", "errorMessage": "no module"}', "Unhandled"),
            "hook function error: Runtime.ImportModuleError: no module",
        ),
        (Invocation(b'{"hookStatus": "DONE"}'), "invalid hookStatus 'DONE'"),
        (Invocation(b'{"callBackDelay": 5}'), "invalid hookStatus None"),
        (Invocation(b'"SUCCEEDED"'), "invalid hookStatus None"),
        (Invocation(b"null"), "invalid hookStatus None"),
    ],
)
def test_a_function_error_or_an_answer_without_a_valid_status_rolls_back(invocation: Invocation, reason: str) -> None:
    # Given a hook at two stages whose first answer ECS cannot accept
    hook = ScriptedHook(lambda event: invocation if event["lifecycleStage"] == "POST_SCALE_UP" else validating(event))

    # When ECS deploys
    deployment = deploy(hook, (Stage.POST_SCALE_UP, Stage.POST_TEST_TRAFFIC_SHIFT))

    # Then the stage failed with ECS's own reason, the later stage never ran, and the deployment rolled back
    assert deployment.status is DeploymentStatus.ROLLED_BACK
    assert deployment.reason is not None and deployment.reason.startswith(reason)
    assert [(run.planned.stage, run.hook_status) for run in deployment.runs] == [
        (Stage.POST_SCALE_UP, EcsHookStatus.FAILED)
    ]
    assert {event["lifecycleStage"] for event in hook.events} == {"POST_SCALE_UP"}


def test_a_failed_step_stops_the_deployment_and_ecs_calls_the_traffic_shift_hooks_back_at_0() -> None:
    # Given a hook at both traffic shift stages whose validation fails at the second production step
    def answer(event: dict[str, Any]) -> dict[str, Any]:
        if new_revision_test_weight(event) == 0:  # only a rollback takes test traffic back from the new revision
            return {"hookStatus": "SUCCEEDED", "hookDetails": {"reason": "rollback"}}
        if event["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT" and production_weight(event) == 66.7:
            return {"hookStatus": "FAILED", "hookDetails": {"reason": "stage 'smoke': 1 failed probes, budget 0"}}
        return validating(event)

    hook = ScriptedHook(answer)

    # When ECS deploys linearly in three steps
    stages = (Stage.TEST_TRAFFIC_SHIFT, Stage.PRODUCTION_TRAFFIC_SHIFT)
    deployment = deploy(hook, stages, Strategy.LINEAR, 3)

    # Then two steps ran, the third and everything after never did
    assert [(run.planned.stage, run.planned.step, run.hook_status) for run in deployment.runs] == [
        (Stage.TEST_TRAFFIC_SHIFT, None, EcsHookStatus.SUCCEEDED),
        (Stage.PRODUCTION_TRAFFIC_SHIFT, 1, EcsHookStatus.SUCCEEDED),
        (Stage.PRODUCTION_TRAFFIC_SHIFT, 2, EcsHookStatus.FAILED),
    ]
    # And ECS called both traffic shift hooks again, the new revision's weights back at 0, and recorded their answers
    assert [(run.planned.stage, run.hook_status, run.reason) for run in deployment.rollback_runs] == [
        (Stage.PRODUCTION_TRAFFIC_SHIFT, EcsHookStatus.SUCCEEDED, "rollback"),
        (Stage.TEST_TRAFFIC_SHIFT, EcsHookStatus.SUCCEEDED, "rollback"),
    ]
    assert all(call.planned.rollback for run in deployment.rollback_runs for call in run.invocations)
    assert deployment.status is DeploymentStatus.ROLLED_BACK
    assert deployment.reason == "stage 'smoke': 1 failed probes, budget 0"
    assert deployment.decisive_run is deployment.runs[-1]


def test_a_failed_rollback_hook_is_recorded_and_the_deployment_still_rolls_back() -> None:
    hook = ScriptedHook(lambda event: {"hookStatus": "FAILED", "hookDetails": {"reason": "no"}})

    deployment = deploy(hook, (Stage.PRODUCTION_TRAFFIC_SHIFT,))

    assert deployment.status is DeploymentStatus.ROLLED_BACK
    assert [(run.planned.rollback, run.hook_status) for run in deployment.runs + deployment.rollback_runs] == [
        (False, EcsHookStatus.FAILED),
        (True, EcsHookStatus.FAILED),
    ]


def test_a_hook_that_stays_in_progress_past_its_timeout_fails_the_stage() -> None:
    # Given a hook that never finishes, and a stage timeout of 10 s
    hook = ScriptedHook(lambda event: {"hookStatus": "IN_PROGRESS", "callBackDelay": 100})

    # When ECS runs the stage (each wait is 100 s x 0.05 = 5 s)
    deployment = deploy(hook, (Stage.POST_TEST_TRAFFIC_SHIFT,), timeout_seconds=10)

    # Then the stage failed once 10 s had passed, after three calls, and the deployment rolled back
    assert deployment.status is DeploymentStatus.ROLLED_BACK
    assert deployment.reason == "the hook did not finish within 10 s"
    assert len(deployment.invocations) == 3
