"""One ECS-native deployment on the embedded engine, its Lambda hook validating a suite at a lifecycle stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.engine.ecs import (
    DEFAULT_CALLBACK_SCALE,
    DeploymentStatus,
    HookInvocation,
    HookRun,
    LifecycleHook,
    LocalEcs,
    ServiceDeployment,
    Strategy,
)
from tollgate.engine.engine import LocalEngine
from tollgate.engine.template import FunctionSpec
from tollgate.history import ProgressEvent
from tollgate.local_run import POLL_SECONDS, ExecutionWatch, RunOutcome, describe_execution
from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS
from tollgate_core.contracts import EcsHookStatus, HookStatus, LifecycleStage

ECS_HOOK_FUNCTION = "EcsHookFunction"
DEFAULT_STEPS = 3
# Blue/green validates the test listener before any production traffic moves; linear and canary validate
# every production step once its weight has moved.
DEFAULT_LIFECYCLE_STAGES = {
    Strategy.BLUE_GREEN: LifecycleStage.POST_TEST_TRAFFIC_SHIFT,
    Strategy.LINEAR: LifecycleStage.PRODUCTION_TRAFFIC_SHIFT,
    Strategy.CANARY: LifecycleStage.PRODUCTION_TRAFFIC_SHIFT,
}
_RECORDED = {
    EcsHookStatus.SUCCEEDED: HookStatus.SUCCEEDED,
    EcsHookStatus.FAILED: HookStatus.FAILED,
    EcsHookStatus.IN_PROGRESS: HookStatus.PENDING,
}

_RECORDED_OUTCOME = {DeploymentStatus.SUCCESSFUL: HookStatus.SUCCEEDED, DeploymentStatus.ROLLED_BACK: HookStatus.FAILED}

EcsProgress = ProgressEvent | HookInvocation


class NoEcsHook(LookupError):
    pass


@dataclass(frozen=True)
class EcsRunOutcome:
    deployment: ServiceDeployment  # what the local ECS recorded: every invocation, every stage, the outcome
    validations: list[RunOutcome]  # one per hook run that started a validation, in the deployment's order

    @property
    def steps(self) -> list[HookRun]:
        """The hook's runs at the stages that recur at every traffic step, in order."""
        return [run for run in self.deployment.runs if run.planned.step is not None]

    def combined(self) -> RunOutcome:
        """The deployment as one validation: the decisive run's verdict, every validation's probes."""
        decisive = self._decisive_validation()
        return RunOutcome(
            reported_status=_RECORDED_OUTCOME[self.deployment.status],
            execution_arn=decisive.execution_arn if decisive else None,
            duration_seconds=self.deployment.duration_seconds,
            summary=decisive.summary if decisive else None,
            hook_error=self._function_error(),
            execution_status=decisive.execution_status if decisive else None,
            execution_failure=decisive.execution_failure if decisive else None,
            rounds=[round_ for validation in self.validations for round_ in validation.rounds],
            history=[event for validation in self.validations for event in validation.history],
        )

    def _decisive_validation(self) -> RunOutcome | None:
        run = self.deployment.decisive_run
        if run is None or run.execution_arn is None:
            return None
        return next(
            (validation for validation in self.validations if validation.execution_arn == run.execution_arn), None
        )

    def _function_error(self) -> dict[str, Any] | None:
        run = self.deployment.decisive_run
        last = run.invocations[-1] if run and run.invocations else None
        return last.answer if last and last.function_error and isinstance(last.answer, dict) else None


def ecs_hook_function(engine: LocalEngine) -> FunctionSpec:
    try:
        return engine.app.function(ECS_HOOK_FUNCTION)
    except KeyError:
        raise NoEcsHook(f"template.yaml declares no ECS hook ({ECS_HOOK_FUNCTION})") from None


def run_ecs_deployment(
    engine: LocalEngine,
    suite_document: Any,
    target: str | None = None,
    lifecycle_stages: Sequence[LifecycleStage] = (),
    strategy: Strategy = Strategy.BLUE_GREEN,
    steps: int = DEFAULT_STEPS,
    on_progress: Callable[[EcsProgress], None] | None = None,
    callback_scale: float = DEFAULT_CALLBACK_SCALE,
) -> EcsRunOutcome:
    """Deploy as ECS would, the hook configured with the suite inline at the given stages (else the default one).

    With `on_progress`, each invocation and each probe attempt is told as it happens; without it each
    validation's history is read once, when ECS has its verdict.
    """
    hook_function = ecs_hook_function(engine)
    budget = float(hook_function.environment.get("HOOK_BUDGET_SECONDS") or DEFAULT_HOOK_BUDGET_SECONDS)
    hook = LifecycleHook(
        hook_target_arn=hook_function.arn,
        lifecycle_stages=tuple(lifecycle_stages) or (DEFAULT_LIFECYCLE_STAGES[strategy],),
        hook_details={"suite": suite_document, **({"targetBaseUrl": target} if target else {})},
        timeout_seconds=budget + 60,
    )
    watch = _ValidationsWatch(engine.client("stepfunctions"), on_progress)
    ecs = LocalEcs(engine.invoke, callback_scale, wait=watch.wait, on_invocation=watch.invoked)
    deployment = ecs.deploy([hook], strategy, steps)
    return EcsRunOutcome(deployment, watch.validations(deployment))


class _ValidationsWatch:
    """Tells each invocation as ECS makes it, and follows the validations the hook started while ECS waits."""

    def __init__(self, sfn: Any, on_progress: Callable[[EcsProgress], None] | None) -> None:
        self._sfn = sfn
        self._on_progress = on_progress
        self._watches: dict[str, ExecutionWatch] = {}
        self._finished: set[str] = set()
        self._current: ExecutionWatch | None = None

    def invoked(self, call: HookInvocation) -> None:
        arn = call.execution_arn
        if arn is not None:
            self._current = self._watches.get(arn) or self._watch(arn)
            if call.hook_status is not EcsHookStatus.IN_PROGRESS:
                self._finish(self._current)  # the verdict is in: its last attempts come before the answer
        if self._on_progress:
            self._on_progress(call)

    def wait(self, seconds: float) -> None:
        """ECS's wait before the next invocation, spent reading the running validation's progress."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            if self._current is not None and self._current.arn not in self._finished:
                self._current.read_progress()
            time.sleep(min(POLL_SECONDS, left))

    def validations(self, deployment: ServiceDeployment) -> list[RunOutcome]:
        """Each run's validation, finished and carrying the status ECS received for it."""
        outcomes = []
        for run in deployment.runs + deployment.rollback_runs:
            watch = self._watches.get(run.execution_arn or "")
            if watch is None:
                continue
            self._finish(watch)
            watch.outcome.reported_status = _RECORDED[run.hook_status]
            watch.outcome.duration_seconds = run.duration_seconds
            outcomes.append(watch.outcome)
        return outcomes

    def _watch(self, arn: str) -> ExecutionWatch:
        outcome = RunOutcome(HookStatus.PENDING, None, 0.0, None, None, None)
        self._watches[arn] = ExecutionWatch(self._sfn, arn, outcome, self._on_progress)
        return self._watches[arn]

    def _finish(self, watch: ExecutionWatch) -> None:
        if watch.arn in self._finished:
            return
        execution = describe_execution(self._sfn, watch.arn)
        if execution is not None:
            watch.finish(execution)
        self._finished.add(watch.arn)
