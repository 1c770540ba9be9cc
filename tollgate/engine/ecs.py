"""The local ECS deployment: a service deployment that calls its Lambda lifecycle hooks the way Amazon ECS does."""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tollgate.engine.lambda_runtime import Invocation
from tollgate.engine.stack import ACCOUNT_ID, REGION
from tollgate_core.contracts import EcsHookStatus, LifecycleStage

# ECS calls an IN_PROGRESS hook again after this long when the hook names no callBackDelay.
DEFAULT_CALLBACK_DELAY_SECONDS = 30.0
DEFAULT_CALLBACK_SCALE = 0.05
# ECS's timeoutConfiguration default: 1440 minutes, then the timeout action (ROLLBACK by default).
DEFAULT_HOOK_TIMEOUT_SECONDS = 1440 * 60.0
CANARY_PERCENT = 10.0
_CLUSTER = "tollgate-local"


# On rollback ECS calls these hooks again, production traffic first as the docs list them.
ROLLBACK_STAGES = (LifecycleStage.PRODUCTION_TRAFFIC_SHIFT, LifecycleStage.TEST_TRAFFIC_SHIFT)


class Strategy(StrEnum):
    """How production traffic moves to the new revision: at once, in equal steps, or a canary step first."""

    BLUE_GREEN = "blue-green"
    LINEAR = "linear"
    CANARY = "canary"


class DeploymentStatus(StrEnum):
    """How the local deployment ended; Amazon ECS says ROLLBACK_SUCCESSFUL where this says ROLLED_BACK."""

    SUCCESSFUL = "SUCCESSFUL"
    ROLLED_BACK = "ROLLED_BACK"


HookInvoker = Callable[[str, dict[str, Any]], Invocation]


@dataclass(frozen=True)
class LifecycleHook:
    """One entry of the service's deploymentConfiguration.lifecycleHooks[]."""

    hook_target_arn: str  # the function's name or ARN
    lifecycle_stages: tuple[LifecycleStage, ...]
    hook_details: dict[str, Any] | None = None
    timeout_seconds: float = DEFAULT_HOOK_TIMEOUT_SECONDS  # real time, never scaled


@dataclass(frozen=True)
class PlannedStage:
    """A stage as the deployment reaches it, with the new revision's traffic weights (percent) at that point."""

    stage: LifecycleStage
    step: int | None  # the traffic step, for the stages that recur at every step
    production_weight: float
    test_weight: float | None  # None before any test traffic exists
    rollback: bool = False


@dataclass(frozen=True)
class HookInvocation:
    """One call of a hook and its answer, as ECS saw it."""

    planned: PlannedStage
    event: dict[str, Any]
    answer: Any  # the function's payload, parsed; Lambda's error document after a function error
    function_error: str | None
    hook_status: EcsHookStatus  # FAILED for an answer ECS cannot accept
    callback_delay_seconds: float | None  # after IN_PROGRESS: how long ECS waits before calling again
    hook_details: dict[str, Any]  # what the hook returned for the next call
    reason: str | None  # with a final status: the hook's hookDetails.reason, or why ECS did not accept the answer

    @property
    def execution_arn(self) -> str | None:
        arn = self.hook_details.get("executionArn")
        return arn if isinstance(arn, str) else None


@dataclass
class HookRun:
    """One stage (or one traffic step of a recurring stage) of one hook: from its first call to its final status."""

    hook_target_arn: str
    planned: PlannedStage
    invocations: list[HookInvocation] = field(default_factory=list)
    hook_status: EcsHookStatus = EcsHookStatus.IN_PROGRESS
    reason: str | None = None
    duration_seconds: float = 0.0

    @property
    def execution_arn(self) -> str | None:
        """The validation the hook started, as it named it in hookDetails."""
        return next((call.execution_arn for call in reversed(self.invocations) if call.execution_arn), None)


@dataclass
class ServiceDeployment:
    """What ECS knows of one service deployment: every hook call, every stage's status, the outcome."""

    deployment_id: str
    service_arn: str
    resource_arn: str  # the service deployment
    source_revision_arn: str
    target_revision_arn: str
    strategy: Strategy
    runs: list[HookRun] = field(default_factory=list)
    rollback_runs: list[HookRun] = field(default_factory=list)
    status: DeploymentStatus = DeploymentStatus.SUCCESSFUL
    reason: str | None = None
    duration_seconds: float = 0.0

    @property
    def invocations(self) -> list[HookInvocation]:
        return [call for run in self.runs + self.rollback_runs for call in run.invocations]

    @property
    def decisive_run(self) -> HookRun | None:
        """The last stage the deployment ran: the failed one on rollback."""
        return self.runs[-1] if self.runs else None


def production_weights(strategy: Strategy, steps: int = 3) -> list[float]:
    """The new revision's production weight after each traffic step."""
    if steps < 1:
        raise ValueError(f"a deployment has at least one traffic step, not {steps}")
    if strategy is Strategy.LINEAR:
        return [round(100 * step / steps, 1) for step in range(1, steps + 1)]
    if strategy is Strategy.CANARY:
        return [CANARY_PERCENT, 100.0]
    return [100.0]


def stage_plan(weights: Sequence[float]) -> Iterator[PlannedStage]:
    """Every stage of a deployment in ECS's order, the traffic-step stages once per step."""
    yield PlannedStage(LifecycleStage.RECONCILE_SERVICE, None, 0.0, None)
    yield PlannedStage(LifecycleStage.PRE_SCALE_UP, None, 0.0, None)
    yield PlannedStage(LifecycleStage.POST_SCALE_UP, None, 0.0, None)
    yield PlannedStage(LifecycleStage.TEST_TRAFFIC_SHIFT, None, 0.0, 100.0)
    yield PlannedStage(LifecycleStage.POST_TEST_TRAFFIC_SHIFT, None, 0.0, 100.0)
    previous = 0.0
    for step, weight in enumerate(weights, start=1):
        yield PlannedStage(LifecycleStage.PRE_PRODUCTION_TRAFFIC_SHIFT, step, previous, 100.0)
        yield PlannedStage(LifecycleStage.PRODUCTION_TRAFFIC_SHIFT, step, weight, 100.0)
        previous = weight
    yield PlannedStage(LifecycleStage.POST_PRODUCTION_TRAFFIC_SHIFT, None, 100.0, 100.0)


def rollback_plan() -> Iterator[PlannedStage]:
    """The stages ECS calls again when it rolls back, the new revision's weights back at 0."""
    for stage in ROLLBACK_STAGES:
        yield PlannedStage(stage, None, 0.0, 0.0, rollback=True)


class LocalEcs:
    """Runs service deployments whose lifecycle hooks are Lambda functions, as Amazon ECS runs them.

    ECS waits `callBackDelay` seconds (30 by default) before calling an IN_PROGRESS hook again; locally the
    wait is `callBackDelay x callback_scale` (0.05 by default: a 5 s callBackDelay waits 0.25 s), so a
    deployment of several steps runs in seconds while the hook still sees ECS's protocol.
    """

    def __init__(
        self,
        invoke: HookInvoker,
        callback_scale: float = DEFAULT_CALLBACK_SCALE,
        wait: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_invocation: Callable[[HookInvocation], None] | None = None,
    ) -> None:
        self._invoke = invoke
        self.callback_scale = callback_scale
        self._wait = wait
        self._clock = clock
        self._on_invocation = on_invocation

    def deploy(
        self, hooks: Sequence[LifecycleHook], strategy: Strategy = Strategy.BLUE_GREEN, steps: int = 3
    ) -> ServiceDeployment:
        """One deployment to a new revision: every configured hook at every stage until one fails."""
        deployment = _new_deployment(strategy)
        started = self._clock()
        for planned in stage_plan(production_weights(strategy, steps)):
            failed = self._run_stage(deployment, hooks, planned, deployment.runs)
            if failed is not None:
                deployment.status, deployment.reason = DeploymentStatus.ROLLED_BACK, failed.reason
                self._roll_back(deployment, hooks)
                break
        deployment.duration_seconds = round(self._clock() - started, 3)
        return deployment

    def _roll_back(self, deployment: ServiceDeployment, hooks: Sequence[LifecycleHook]) -> None:
        for planned in rollback_plan():
            self._run_stage(deployment, hooks, planned, deployment.rollback_runs)

    def _run_stage(
        self, deployment: ServiceDeployment, hooks: Sequence[LifecycleHook], planned: PlannedStage, runs: list[HookRun]
    ) -> HookRun | None:
        """Every hook configured at this stage, in order; the first that fails, if any."""
        for hook in hooks:
            if planned.stage not in hook.lifecycle_stages:
                continue
            run = self._run_hook(deployment, hook, planned)
            runs.append(run)
            if run.hook_status is EcsHookStatus.FAILED and not planned.rollback:
                return run
        return None

    def _run_hook(self, deployment: ServiceDeployment, hook: LifecycleHook, planned: PlannedStage) -> HookRun:
        """Call the hook until it answers SUCCEEDED or FAILED, or its timeout passes."""
        run = HookRun(hook.hook_target_arn, planned)
        started = self._clock()
        returned: dict[str, Any] = {}
        while True:
            event = _hook_event(deployment, planned, {**(hook.hook_details or {}), **returned})
            call = _call(self._invoke, hook.hook_target_arn, planned, event)
            run.invocations.append(call)
            if self._on_invocation:
                self._on_invocation(call)
            if call.hook_status is not EcsHookStatus.IN_PROGRESS:
                run.hook_status, run.reason = call.hook_status, call.reason
                break
            if self._clock() - started >= hook.timeout_seconds:
                run.hook_status = EcsHookStatus.FAILED
                run.reason = f"the hook did not finish within {hook.timeout_seconds:g} s"
                break
            returned = call.hook_details
            self._wait((call.callback_delay_seconds or 0.0) * self.callback_scale)
        run.duration_seconds = round(self._clock() - started, 3)
        return run


def _new_deployment(strategy: Strategy) -> ServiceDeployment:
    """A deployment with ids and ARNs shaped like ECS's."""
    service = "tollgate-demo"
    deployment_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(21))
    prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}"
    source, target = sorted(secrets.randbelow(10**8) for _ in range(2))
    return ServiceDeployment(
        deployment_id=deployment_id,
        service_arn=f"{prefix}:service/{_CLUSTER}/{service}",
        resource_arn=f"{prefix}:service-deployment/{_CLUSTER}/{service}/{deployment_id}",
        source_revision_arn=f"{prefix}:service-revision/{_CLUSTER}/{service}/{source:08d}",
        target_revision_arn=f"{prefix}:service-revision/{_CLUSTER}/{service}/{target:08d}",
        strategy=strategy,
    )


def _hook_event(deployment: ServiceDeployment, planned: PlannedStage, hook_details: dict[str, Any]) -> dict[str, Any]:
    source, target = deployment.source_revision_arn, deployment.target_revision_arn
    return {
        "executionId": deployment.deployment_id,
        "lifecycleStage": planned.stage.value,
        "resourceArn": deployment.resource_arn,
        "executionDetails": {
            "serviceArn": deployment.service_arn,
            "targetServiceRevisionArn": target,
            "testTrafficWeights": _weights(source, target, planned.test_weight),
            "productionTrafficWeights": _weights(source, target, planned.production_weight),
        },
        "hookDetails": hook_details,
    }


def _weights(source: str, target: str, target_weight: float | None) -> dict[str, float]:
    """Percent per revision; no entries where no such traffic exists yet."""
    return {} if target_weight is None else {source: 100 - target_weight, target: target_weight}


def _call(invoke: HookInvoker, function: str, planned: PlannedStage, event: dict[str, Any]) -> HookInvocation:
    invocation = invoke(function, event)
    answer = _parsed(invocation.payload)
    status, refusal = _status(answer, invocation.function_error)
    details = answer.get("hookDetails") if isinstance(answer, dict) else None
    details = details if isinstance(details, dict) else {}
    reason = refusal or (details.get("reason") if isinstance(details.get("reason"), str) else None)
    return HookInvocation(
        planned=planned,
        event=event,
        answer=answer,
        function_error=invocation.function_error,
        hook_status=status,
        callback_delay_seconds=_callback_delay(answer) if status is EcsHookStatus.IN_PROGRESS else None,
        hook_details=details,
        reason=reason,
    )


def _parsed(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", errors="replace")


def _status(answer: Any, function_error: str | None) -> tuple[EcsHookStatus, str | None]:
    """The status ECS takes from an answer, and why when ECS refuses the answer itself."""
    if function_error:
        error = answer if isinstance(answer, dict) else {}
        return EcsHookStatus.FAILED, f"hook function error: {error.get('errorType')}: {error.get('errorMessage')}"
    status = answer.get("hookStatus") if isinstance(answer, dict) else None
    if status in tuple(EcsHookStatus):
        return EcsHookStatus(status), None
    accepted = ", ".join(EcsHookStatus)
    return EcsHookStatus.FAILED, f"invalid hookStatus {status!r} in the hook's answer; ECS accepts {accepted}"


def _callback_delay(answer: dict[str, Any]) -> float:
    delay = answer.get("callBackDelay")
    if isinstance(delay, int | float) and not isinstance(delay, bool) and delay >= 0:
        return float(delay)
    return DEFAULT_CALLBACK_DELAY_SECONDS
