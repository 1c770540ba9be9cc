"""The ECS run report from what the local ECS recorded, when no validation ran to a verdict."""

from __future__ import annotations

import json
from typing import Any

from tests.support.ecs_hooks import ScriptedHook, answering, deploy
from tests.support.suites import route, stage, suite_document
from tollgate.ecs_run import EcsRunOutcome
from tollgate.engine.ecs import Strategy
from tollgate.engine.lambda_runtime import Invocation
from tollgate.report import build_ecs_report
from tollgate_core.contracts import LifecycleStage
from tollgate_core.suite import parse_suite

SUITE = parse_suite(suite_document(stage("smoke", route("health"))))


def as_written(report: object) -> dict[str, Any]:
    """The report as --report-json writes it."""
    written: dict[str, Any] = json.loads(json.dumps(report))
    return written


def test_a_hook_that_crashed_is_reported_failed_with_the_reason_ecs_gives() -> None:
    # Given a hook function that fails on its first call
    crash = Invocation(b'{"errorType": "Runtime.ImportModuleError", "errorMessage": "no module"}', "Unhandled")
    deployment = deploy(ScriptedHook(lambda event: crash), (LifecycleStage.PRODUCTION_TRAFFIC_SHIFT,), Strategy.CANARY)

    # When the deployment is reported
    report = as_written(build_ecs_report(EcsRunOutcome(deployment, []), SUITE))

    # Then the report says ECS rolled back because of the function error, at the first step, with no execution
    assert (report["controller"], report["status"], report["reportedStatus"]) == ("ECS", "Failed", "Failed")
    assert report["reason"] == "hook function error: Runtime.ImportModuleError: no module"
    assert (report["hookStatus"], report["invocations"], report["executionArn"]) == ("FAILED", 2, None)
    assert report["stages"] == [{"name": "smoke", "status": "skipped", "probes": []}]
    assert [(step["productionWeight"], step["hookStatus"]) for step in report["steps"]] == [(10, "FAILED")]


def test_a_stage_with_nothing_to_validate_is_reported_succeeded_without_steps_for_blue_green() -> None:
    hook = answering({"hookStatus": "SUCCEEDED", "hookDetails": {"reason": "nothing to validate at PRE_SCALE_UP"}})
    deployment = deploy(hook, (LifecycleStage.PRE_SCALE_UP,))

    report = as_written(build_ecs_report(EcsRunOutcome(deployment, []), SUITE))

    assert (report["status"], report["reportedStatus"], report["hookStatus"]) == ("Succeeded", "Succeeded", "SUCCEEDED")
    assert report["reason"] is None
    assert "steps" not in report
