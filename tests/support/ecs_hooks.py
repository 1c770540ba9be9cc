"""A scripted ECS lifecycle hook, and a clock that passes ECS's waits at once: the local ECS without the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tollgate.engine.ecs import LifecycleHook, LocalEcs, ServiceDeployment, Strategy
from tollgate.engine.lambda_runtime import Invocation
from tollgate_core.contracts import LifecycleStage

HOOK = "arn:aws:lambda:us-east-1:123456789012:function:tollgate-local-EcsHook"
EVERY_STAGE = tuple(LifecycleStage)


class FakeClock:
    """ECS's waits, recorded and passed at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


Answer = Callable[[dict[str, Any]], dict[str, Any] | Invocation]


def validating(event: dict[str, Any]) -> dict[str, Any]:
    """Like Tollgate's hook: start a validation (IN_PROGRESS, its ARN in hookDetails), then report it passed."""
    if "executionArn" in event["hookDetails"]:
        return {"hookStatus": "SUCCEEDED", "hookDetails": {**event["hookDetails"], "reason": "validation passed"}}
    name = f"{event['lifecycleStage']}-{production_weight(event):g}"
    arn = f"arn:aws:states:us-east-1:123456789012:execution:validation:{name}"
    return {"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {"executionArn": arn}}


class ScriptedHook:
    """A hook function: answers as its script says and keeps every event ECS sent it."""

    def __init__(self, answer: Answer = validating) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> Invocation:
        assert function == HOOK
        self.events.append(json.loads(json.dumps(event)))  # as it travels: JSON
        answer = self.answer(event)
        return answer if isinstance(answer, Invocation) else Invocation(json.dumps(answer).encode())

    def calls(self) -> list[tuple[str, float]]:
        """(stage, the new revision's production weight) of each call."""
        return [(event["lifecycleStage"], production_weight(event)) for event in self.events]


def answering(*answers: dict[str, Any]) -> ScriptedHook:
    """A hook that gives these answers in turn, whatever it is asked."""
    remaining = iter(answers)
    return ScriptedHook(lambda event: next(remaining))


def production_weight(event: dict[str, Any]) -> float:
    details = event["executionDetails"]
    weight: float = details["productionTrafficWeights"][details["targetServiceRevisionArn"]]
    return weight


def new_revision_test_weight(event: dict[str, Any]) -> float | None:
    details = event["executionDetails"]
    weight: float | None = details["testTrafficWeights"].get(details["targetServiceRevisionArn"])
    return weight


def deploy(
    hook: ScriptedHook,
    stages: tuple[LifecycleStage, ...] = EVERY_STAGE,
    strategy: Strategy = Strategy.BLUE_GREEN,
    steps: int = 3,
    clock: FakeClock | None = None,
    **configuration: Any,
) -> ServiceDeployment:
    clock = clock or FakeClock()
    ecs = LocalEcs(hook, wait=clock.wait, clock=clock.time)
    return ecs.deploy([LifecycleHook(HOOK, stages, **configuration)], strategy, steps)
