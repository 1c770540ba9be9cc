"""The real workflow end to end: hook -> state machine -> probes -> tally -> reporter -> CodeDeploy (local)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService, closed_port_url
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import RunOutcome, attempts_of

NO_WAIT_RETRY = {"maxAttempts": 3, "intervalSeconds": 0, "backoffRate": 1.0}


def entered_states(outcome: RunOutcome) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"] for event in outcome.history if event["type"].endswith("StateEntered")
    ]


def probes(outcome: RunOutcome) -> list[dict[str, Any]]:
    return [probe for round_results in outcome.rounds for probe in round_results]


def test_all_routes_pass(run_suite: Any) -> None:
    # Given a healthy service with three routes checked in two stages
    routes = {
        "/health": Behaviour(),
        "/orders": Behaviour(body={"status": "ok", "count": 2}),
        "/v": Behaviour(body="v2"),
    }
    with TargetService(routes) as target:
        document = suite_document(
            stage("smoke", route("health"), route("orders", expect={"json": {"$.count": 2}})),
            stage("soak", route("health"), route("v", expect={"bodyContains": "v2"}), rounds=3),
        )

        # When the hook runs the suite
        outcome = run_suite(document, target.url)

    # Then CodeDeploy recorded Succeeded once, after every probe passed on its first attempt
    assert outcome.reported_status == "Succeeded"
    assert outcome.execution_status == "SUCCEEDED"
    assert len(probes(outcome)) == 2 + 2 * 3
    assert all(probe["ok"] and probe["attempts"] == 1 for probe in probes(outcome))
    assert outcome.summary is not None
    assert [s["status"] for s in outcome.summary["stages"]] == ["passed", "passed"]


def test_a_route_that_fails_first_then_recovers_passes_with_its_attempts_recorded(run_suite: Any) -> None:
    with TargetService({"/health": Behaviour(failures_before_success=2)}) as target:
        outcome = run_suite(suite_document(stage("smoke", route("health")), retry=NO_WAIT_RETRY), target.url)

    assert outcome.reported_status == "Succeeded"
    assert [(p["route"], p["attempts"], p["ok"]) for p in probes(outcome)] == [("health", 3, True)]
    assert [a["statusCode"] for a in attempts_of(outcome)] == [503, 503, 200]
    assert entered_states(outcome).count("Wait before retry") == 2


def test_a_target_that_is_down_fails(run_suite: Any) -> None:
    outcome = run_suite(suite_document(stage("smoke", route("health")), retry=NO_WAIT_RETRY), closed_port_url())

    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == "connection refused"
    assert probes(outcome)[0]["attempts"] == 3


def test_a_target_slower_than_the_timeout_fails(run_suite: Any) -> None:
    with TargetService({"/slow": Behaviour(delay_seconds=1.0)}) as target:
        document = suite_document(stage("smoke", route("slow", retry={"maxAttempts": 1})))
        document["target"]["timeoutSeconds"] = 0.2
        outcome = run_suite(document, target.url)

    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == "no response within 0.2 s"


def test_a_wrong_body_or_json_value_fails_with_each_reason(run_suite: Any) -> None:
    with TargetService({"/orders": Behaviour(body={"status": "degraded"})}) as target:
        expect = {"json": {"$.status": "ok"}, "bodyContains": "orders"}
        document = suite_document(stage("smoke", route("orders", expect=expect, retry={"maxAttempts": 1})))
        outcome = run_suite(document, target.url)

    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == 'body does not contain "orders"; $.status is "degraded", expected "ok"'
    assert outcome.summary is not None
    assert outcome.summary["reason"].startswith("stage 'smoke': 1 failed probes, budget 0; orders (round 1)")


def test_a_soak_within_its_failure_budget_passes(run_suite: Any) -> None:
    # Given a route that fails its first round (after its single attempt), then recovers
    with TargetService({"/health": Behaviour(failures_before_success=1)}) as target:
        document = suite_document(stage("soak", route("health", retry={"maxAttempts": 1}), rounds=3, maxFailedProbes=1))
        outcome = run_suite(document, target.url)

    assert outcome.reported_status == "Succeeded"
    assert [p["ok"] for p in probes(outcome)] == [False, True, True]


def test_a_soak_over_its_failure_budget_fails_fast(run_suite: Any) -> None:
    # Given a route that keeps failing, in a stage of 4 rounds that tolerates one failed probe
    with TargetService({"/health": Behaviour(status=500)}) as target:
        document = suite_document(stage("soak", route("health", retry={"maxAttempts": 1}), rounds=4, maxFailedProbes=1))
        outcome = run_suite(document, target.url)

    # Then it stops after the second failed round
    assert outcome.reported_status == "Failed"
    assert len(probes(outcome)) == 2


def test_fail_fast_skips_later_stages_and_their_waits(run_suite: Any) -> None:
    # Given a failing smoke stage and a soak stage that would wait 60 s between rounds
    with TargetService({"/health": Behaviour(status=500), "/ok": Behaviour()}) as target:
        document = suite_document(
            stage("smoke", route("health", retry={"maxAttempts": 1})),
            stage("soak", route("ok"), rounds=3, intervalSeconds=60),
        )
        started = time.monotonic()
        outcome = run_suite(document, target.url)
        elapsed = time.monotonic() - started

    # Then the verdict comes without probing or waiting for the soak stage
    assert outcome.reported_status == "Failed"
    assert "/ok" not in target.hits
    assert "Wait before next round" not in entered_states(outcome)
    assert outcome.summary is not None
    assert [s["status"] for s in outcome.summary["stages"]] == ["failed", "skipped"]
    assert elapsed < 60


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


def test_a_second_hook_invocation_starts_no_second_validation(engine: LocalEngine, run_suite: Any) -> None:
    with TargetService({"/health": Behaviour()}) as target:
        outcome = run_suite(suite_document(stage("smoke", route("health"))), target.url)
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


def test_an_invalid_suite_is_reported_failed_by_the_hook(run_suite: Any) -> None:
    document = suite_document(stage("smoke", route("health", expect={"status": "2x"})))

    outcome = run_suite(document, "http://127.0.0.1:9")

    assert outcome.reported_status == "Failed"
    assert outcome.execution_arn is None
    assert outcome.hook_error is not None
    assert outcome.hook_error["errorType"] == "ValidationNotStarted"
