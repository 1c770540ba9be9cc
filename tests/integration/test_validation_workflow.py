"""The real workflow end to end: hook -> state machine -> probes -> tally -> reporter -> CodeDeploy (local).

The core scenarios live in tests/support/workflow_scenarios.py: an external Step Functions API runs them too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.support import workflow_scenarios as scenarios
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tests.support.workflow_scenarios import Workflow, probes
from tollgate.engine.engine import LocalEngine


def test_all_routes_pass(workflow: Workflow) -> None:
    scenarios.all_routes_pass(workflow)


def test_a_route_that_fails_first_then_recovers_passes_with_its_attempts_recorded(workflow: Workflow) -> None:
    scenarios.flaky_route_recovers(workflow)


def test_a_target_that_is_down_fails(workflow: Workflow) -> None:
    scenarios.target_down(workflow)


def test_a_target_slower_than_the_timeout_fails(workflow: Workflow) -> None:
    with TargetService({"/slow": Behaviour(delay_seconds=1.0)}) as target:
        document = suite_document(stage("smoke", route("slow", retry={"maxAttempts": 1})))
        document["target"]["timeoutSeconds"] = 0.2
        outcome = workflow.run(document, target.url)

    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == "no response within 0.2 s"


def test_a_wrong_body_or_json_value_fails_with_each_reason(workflow: Workflow) -> None:
    with TargetService({"/orders": Behaviour(body={"status": "degraded"})}) as target:
        expect = {"json": {"$.status": "ok"}, "bodyContains": "orders"}
        document = suite_document(stage("smoke", route("orders", expect=expect, retry={"maxAttempts": 1})))
        outcome = workflow.run(document, target.url)

    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == 'body does not contain "orders"; $.status is "degraded", expected "ok"'
    assert outcome.summary is not None
    reason = outcome.summary["reason"]
    assert reason is not None and reason.startswith("stage 'smoke': 1 failed probes, budget 0; orders (round 1)")


def test_a_soak_within_its_failure_budget_passes(workflow: Workflow) -> None:
    # Given a route that fails its first round (after its single attempt), then recovers
    with TargetService({"/health": Behaviour(failures_before_success=1)}) as target:
        document = suite_document(stage("soak", route("health", retry={"maxAttempts": 1}), rounds=3, maxFailedProbes=1))
        outcome = workflow.run(document, target.url)

    assert outcome.reported_status == "Succeeded"
    assert [p["ok"] for p in probes(outcome)] == [False, True, True]


def test_a_soak_over_its_failure_budget_fails_fast(workflow: Workflow) -> None:
    scenarios.soak_over_budget_fails_fast(workflow)


def test_fail_fast_skips_later_stages_and_their_waits(workflow: Workflow) -> None:
    scenarios.fail_fast_skips_later_stages_and_their_waits(workflow)


def test_an_execution_that_ends_failed_still_reports_failed(engine: LocalEngine) -> None:
    # Given a validation whose workflow breaks in a state that cannot catch (a stage index out of range)
    hook = engine.codedeploy.create_deployment("AfterAllowTestTraffic")
    deployment = {
        "deploymentId": hook.deployment_id,
        "lifecycleEventHookExecutionId": hook.hook_execution_id,
        "lifecycleEvent": "AfterAllowTestTraffic",
    }
    broken_input = {
        "deployment": deployment,
        "suite": {"stages": []},
        "validation": {"progress": {"stageIndex": 7}},
        "error": None,
    }
    sfn = engine.client("stepfunctions")

    # When the execution fails
    arn = sfn.start_execution(stateMachineArn=engine.state_machine.arn, input=json.dumps(broken_input))["executionArn"]
    status = engine.codedeploy.wait_for_status(hook.hook_execution_id, timeout_seconds=30)

    # Then the safety net reported Failed, exactly once
    assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
    assert status == "Failed"
    assert engine.codedeploy.hook(hook.hook_execution_id).calls == ["Failed"]


def test_an_aborted_execution_reports_failed(engine: LocalEngine, tmp_path: Path) -> None:
    # Given a validation waiting 60 s between rounds
    with TargetService({"/health": Behaviour()}) as target:
        hook_function = engine.app.hook_for("AfterAllowTestTraffic")
        assert hook_function is not None
        document = suite_document(stage("soak", route("health"), rounds=2, intervalSeconds=60), base_url=target.url)
        suite_path = write_suite(tmp_path, document)
        engine.configure_function(hook_function.name, {"SUITE_PATH": str(suite_path), "TARGET_BASE_URL": ""})
        hook = engine.codedeploy.create_deployment("AfterAllowTestTraffic")
        started = json.loads(
            engine.invoke(
                hook_function.name,
                {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.hook_execution_id},
            ).payload
        )
        sfn = engine.client("stepfunctions")
        _wait_for_state(sfn, started["executionArn"], "Wait before next round")

        # When an operator stops it
        sfn.stop_execution(executionArn=started["executionArn"], error="Operator", cause="stopped by hand")

        # Then CodeDeploy is not left waiting
        assert engine.codedeploy.wait_for_status(hook.hook_execution_id, timeout_seconds=30) == "Failed"
    assert engine.codedeploy.hook(hook.hook_execution_id).calls == ["Failed"]


def _wait_for_state(sfn: Any, arn: str, state: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        if any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{state} never entered")


def test_a_second_hook_invocation_starts_no_second_validation(engine: LocalEngine, workflow: Workflow) -> None:
    with TargetService({"/health": Behaviour()}) as target:
        outcome = workflow.run(suite_document(stage("smoke", route("health"))), target.url)
        hook_function = engine.app.hook_for("AfterAllowTestTraffic")
        assert hook_function is not None and outcome.execution_arn is not None
        execution = engine.client("stepfunctions").describe_execution(executionArn=outcome.execution_arn)
        deployment = json.loads(execution["input"])["deployment"]

        # When CodeDeploy's invocation is delivered again
        again = json.loads(
            engine.invoke(
                hook_function.name,
                {
                    "DeploymentId": deployment["deploymentId"],
                    "LifecycleEventHookExecutionId": deployment["lifecycleEventHookExecutionId"],
                },
            ).payload
        )

    # Then nothing new starts and CodeDeploy still holds the one status it got
    assert again["started"] is False
    executions = engine.client("stepfunctions").list_executions(stateMachineArn=engine.state_machine.arn)["executions"]
    assert [e["executionArn"] for e in executions].count(outcome.execution_arn) == 1
    assert engine.codedeploy.hook(deployment["lifecycleEventHookExecutionId"]).calls == ["Succeeded"]


def test_an_invalid_suite_is_reported_failed_by_the_hook(workflow: Workflow) -> None:
    document = suite_document(stage("smoke", route("health", expect={"status": "2x"})))

    outcome = workflow.run(document, "http://127.0.0.1:9")

    assert outcome.reported_status == "Failed"
    assert outcome.execution_arn is None
    assert outcome.hook_error is not None
    assert outcome.hook_error["errorType"] == "ValidationNotStarted"
