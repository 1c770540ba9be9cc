"""ECS-native deployments on the embedded engine: the local ECS calls the real hook, which runs the real workflow."""

from __future__ import annotations

import json
from typing import Any

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tollgate.ecs_run import EcsProgress, EcsRunOutcome, run_ecs_deployment
from tollgate.engine.ecs import DeploymentStatus, HookInvocation, Strategy
from tollgate.engine.engine import LocalEngine
from tollgate_core.contracts import EcsHookStatus, LifecycleStage

SUCCEEDED, FAILED = EcsHookStatus.SUCCEEDED, EcsHookStatus.FAILED
SMOKE = suite_document(stage("smoke", route("health", retry={"maxAttempts": 1})))


def execution_input(engine: LocalEngine, arn: str | None) -> dict[str, Any]:
    assert arn is not None
    execution = engine.client("stepfunctions").describe_execution(executionArn=arn)
    document: dict[str, Any] = json.loads(execution["input"])
    return document


def hook_statuses(outcome: EcsRunOutcome) -> list[tuple[LifecycleStage, int | None, EcsHookStatus]]:
    return [(run.planned.stage, run.planned.step, run.hook_status) for run in outcome.deployment.runs]


def test_blue_green_passes_when_the_test_listener_passes(engine: LocalEngine) -> None:
    # Given a healthy new revision
    with TargetService({"/health": Behaviour()}) as target:
        # When ECS deploys it blue/green, the hook validating after the test traffic shift
        outcome = run_ecs_deployment(engine, SMOKE, target.url)

    # Then the hook answered SUCCEEDED once its validation passed, and the deployment succeeded
    assert outcome.deployment.status is DeploymentStatus.SUCCESSFUL
    assert hook_statuses(outcome) == [(LifecycleStage.POST_TEST_TRAFFIC_SHIFT, None, SUCCEEDED)]
    (validation,) = outcome.validations
    assert validation.summary is not None and validation.summary["status"] == "Succeeded"
    assert [probe["ok"] for round_ in validation.rounds for probe in round_] == [True]
    # And the execution says which controller asked, without a CodeDeploy delivery
    assert execution_input(engine, validation.execution_arn)["deployment"]["controller"] == "ECS"
    assert "codeDeploy" not in validation.summary


def test_blue_green_rolls_back_with_the_validations_reason_when_the_test_listener_fails(engine: LocalEngine) -> None:
    with TargetService({"/health": Behaviour(status=500)}) as target:
        outcome = run_ecs_deployment(engine, SMOKE, target.url)

    assert outcome.deployment.status is DeploymentStatus.ROLLED_BACK
    assert (
        outcome.deployment.reason
        == "stage 'smoke': 1 failed probes, budget 0; health (round 1): status 500, expected 2xx"
    )
    assert hook_statuses(outcome) == [(LifecycleStage.POST_TEST_TRAFFIC_SHIFT, None, FAILED)]
    assert outcome.deployment.runs[0].execution_arn == outcome.validations[0].execution_arn
    assert outcome.deployment.rollback_runs == []  # no traffic shift stage configured: nothing to call back


def test_linear_validates_each_of_three_steps_in_its_own_execution(engine: LocalEngine) -> None:
    # Given a healthy new revision
    with TargetService({"/health": Behaviour()}) as target:
        # When ECS shifts production traffic in three steps, the hook validating each one
        outcome = run_ecs_deployment(engine, SMOKE, target.url, strategy=Strategy.LINEAR, steps=3)

    # Then each step passed its own validation, at its own weight, and the deployment succeeded
    assert outcome.deployment.status is DeploymentStatus.SUCCESSFUL
    assert [(run.planned.production_weight, run.hook_status) for run in outcome.steps] == [
        (33.3, SUCCEEDED),
        (66.7, SUCCEEDED),
        (100, SUCCEEDED),
    ]
    arns = [run.execution_arn for run in outcome.steps]
    assert len(set(arns)) == 3
    assert [execution_input(engine, arn)["deployment"]["productionWeight"] for arn in arns] == [33.3, 66.7, 100.0]
    assert [validation.summary["status"] for validation in outcome.validations if validation.summary] == [
        "Succeeded"
    ] * 3


def test_linear_failing_at_step_2_stops_there_and_the_rollback_invocations_are_answered_succeeded(
    engine: LocalEngine,
) -> None:
    # Given a new revision that breaks once it takes the second step's traffic
    with TargetService({"/health": Behaviour()}) as target:

        def break_after_step_1(event: EcsProgress) -> None:
            if isinstance(event, HookInvocation) and event.planned.step == 1 and event.hook_status is SUCCEEDED:
                target.routes["/health"] = Behaviour(status=503)

        # When ECS deploys linearly in three steps, the hook at both traffic shift stages
        stages = (LifecycleStage.TEST_TRAFFIC_SHIFT, LifecycleStage.PRODUCTION_TRAFFIC_SHIFT)
        outcome = run_ecs_deployment(
            engine, SMOKE, target.url, stages, Strategy.LINEAR, steps=3, on_progress=break_after_step_1
        )

    # Then two steps were recorded, the second FAILED, and no third step ran
    assert hook_statuses(outcome) == [
        (LifecycleStage.TEST_TRAFFIC_SHIFT, None, SUCCEEDED),
        (LifecycleStage.PRODUCTION_TRAFFIC_SHIFT, 1, SUCCEEDED),
        (LifecycleStage.PRODUCTION_TRAFFIC_SHIFT, 2, FAILED),
    ]
    assert outcome.deployment.status is DeploymentStatus.ROLLED_BACK
    assert outcome.deployment.reason is not None and "status 503, expected 2xx" in outcome.deployment.reason
    # And ECS called both traffic shift hooks back at weight 0: each answered SUCCEEDED at once, validating nothing
    rollback = outcome.deployment.rollback_runs
    assert [(run.planned.stage, run.hook_status, len(run.invocations)) for run in rollback] == [
        (LifecycleStage.PRODUCTION_TRAFFIC_SHIFT, SUCCEEDED, 1),
        (LifecycleStage.TEST_TRAFFIC_SHIFT, SUCCEEDED, 1),
    ]
    assert all(run.execution_arn is None for run in rollback)
    assert len(outcome.validations) == 3


def test_a_suite_longer_than_the_hook_budget_rolls_back_up_front_saying_so(engine: LocalEngine) -> None:
    # Given a suite that could outlast the hook's time budget (ten one-hour rounds)
    soak = suite_document(stage("soak", route("health"), rounds=10, intervalSeconds=3600))

    # When ECS deploys with it
    with TargetService({"/health": Behaviour()}) as target:
        outcome = run_ecs_deployment(engine, soak, target.url)

    # Then the first invocation answers FAILED with the budget problem, and no validation ever started
    assert outcome.deployment.status is DeploymentStatus.ROLLED_BACK
    assert hook_statuses(outcome) == [(LifecycleStage.POST_TEST_TRAFFIC_SHIFT, None, FAILED)]
    assert outcome.deployment.reason is not None
    assert outcome.deployment.reason.startswith("invalid suite: (suite): worst-case duration")
    assert "exceeds the hook's time budget of 3300 s" in outcome.deployment.reason
    assert outcome.deployment.runs[0].execution_arn is None
    assert len(outcome.deployment.runs[0].invocations) == 1
