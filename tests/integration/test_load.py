"""Twenty validations at once: each deployment receives exactly its own status, nothing crosses over."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.codedeploy import HookExecution
from tollgate.engine.engine import LocalEngine

PASSING_EVENT, FAILING_EVENT = "AfterAllowTestTraffic", "AfterAllowTraffic"
VALIDATIONS_PER_EVENT = 10


def test_twenty_concurrent_validations_each_get_their_own_status(engine: LocalEngine, tmp_path: Path) -> None:
    # Given one hook whose suite passes and one whose suite fails, against two different services
    healthy = TargetService({"/health": Behaviour(), "/orders": Behaviour()})
    broken = TargetService({"/health": Behaviour(), "/orders": Behaviour(status=500)})
    with healthy, broken:
        for event, target, name in ((PASSING_EVENT, healthy, "pass.yaml"), (FAILING_EVENT, broken, "fail.yaml")):
            document = suite_document(stage("smoke", route("health"), route("orders", retry={"maxAttempts": 1})))
            hook_function = engine.app.hook_for(event)
            assert hook_function is not None
            engine.configure_function(
                hook_function.name,
                {"SUITE_PATH": str(write_suite(tmp_path, document, name)), "TARGET_BASE_URL": target.url},
            )
        hooks = [
            engine.codedeploy.create_deployment(event)
            for _ in range(VALIDATIONS_PER_EVENT)
            for event in (PASSING_EVENT, FAILING_EVENT)
        ]

        # When CodeDeploy invokes all twenty hooks at once
        def invoke(hook: HookExecution) -> dict[str, object]:
            hook_function = engine.app.hook_for(hook.lifecycle_event)
            assert hook_function is not None
            event = {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.hook_execution_id}
            answer: dict[str, object] = json.loads(engine.invoke(hook_function.name, event).payload)
            return answer

        with ThreadPoolExecutor(max_workers=len(hooks)) as pool:
            answers = list(pool.map(invoke, hooks))
        statuses = [engine.codedeploy.wait_for_status(hook.hook_execution_id, timeout_seconds=120) for hook in hooks]

    # Then every deployment got exactly one status, the one its own suite and service deserve
    assert all(answer["started"] for answer in answers)
    assert len({answer["executionArn"] for answer in answers}) == len(hooks)
    expected = ["Succeeded" if hook.lifecycle_event == PASSING_EVENT else "Failed" for hook in hooks]
    assert statuses == expected
    assert all(hook.calls == [status] for hook, status in zip(hooks, statuses, strict=True))
