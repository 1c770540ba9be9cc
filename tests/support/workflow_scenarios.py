"""The workflow's core scenarios, each Given/When/Then, run on whichever Step Functions API the engine uses.

The embedded engine runs them (tests/integration/test_validation_workflow.py), and so does an engine whose
Step Functions API is an external server (tests/integration/test_external_sfn_endpoint.py). Each returns the
ARN of the execution it ran, so a caller can look for that execution where it expects it to be.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.alb_metrics import new_target_group, seed_alb_traffic
from tests.support.suites import route, stage, suite_document, target_group_check, write_suite
from tests.support.target import Behaviour, TargetService, closed_port_url
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import RunOutcome, attempts_of, run_validation
from tollgate_core.contracts import ProbeResult

NO_WAIT_RETRY = {"maxAttempts": 3, "intervalSeconds": 0, "backoffRate": 1.0}
LIFECYCLE_EVENT = "AfterAllowTestTraffic"


@dataclass(frozen=True)
class Workflow:
    """An engine and a directory for suite files: what every scenario needs."""

    engine: LocalEngine
    directory: Path

    def run(self, document: dict[str, Any], target: str | None = None) -> RunOutcome:
        """One validation as CodeDeploy starts it, followed until CodeDeploy has its status."""
        return run_validation(self.engine, write_suite(self.directory, document), target, timeout_seconds=90)

    def start_hook(self, document: dict[str, Any]) -> tuple[str, str]:
        """Invoke the hook for a new deployment and return at once: the hook execution id and the execution ARN."""
        hook_function = self.engine.app.hook_for(LIFECYCLE_EVENT)
        assert hook_function is not None
        suite_path = write_suite(self.directory, document)
        self.engine.configure_function(hook_function.name, {"SUITE_PATH": str(suite_path), "TARGET_BASE_URL": ""})
        hook = self.engine.codedeploy.create_deployment(LIFECYCLE_EVENT)
        answer = self.engine.invoke(
            hook_function.name,
            {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.hook_execution_id},
        )
        assert answer.function_error is None, answer.payload
        return hook.hook_execution_id, str(json.loads(answer.payload)["executionArn"])

    def wait_for_execution_status(self, arn: str, timeout_seconds: float = 60) -> str:
        """The execution's status once it is no longer RUNNING."""
        sfn = self.engine.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            status: str = sfn.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.05)
        raise AssertionError(f"{arn} still RUNNING after {timeout_seconds:.0f} s")


def entered_states(outcome: RunOutcome) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"] for event in outcome.history if event["type"].endswith("StateEntered")
    ]


def probes(outcome: RunOutcome) -> list[ProbeResult]:
    return [probe for round_results in outcome.rounds for probe in round_results]


def _arn(outcome: RunOutcome) -> str:
    assert outcome.execution_arn is not None, outcome
    return outcome.execution_arn


def all_routes_pass(workflow: Workflow) -> str:
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
        outcome = workflow.run(document, target.url)

    # Then CodeDeploy recorded Succeeded once, after every probe passed on its first attempt
    assert outcome.reported_status == "Succeeded"
    assert outcome.status_calls == ["Succeeded"]
    assert outcome.execution_status == "SUCCEEDED"
    assert len(probes(outcome)) == 2 + 2 * 3
    assert all(probe["ok"] and probe["attempts"] == 1 for probe in probes(outcome))
    assert outcome.summary is not None
    assert [s["status"] for s in outcome.summary["stages"]] == ["passed", "passed"]
    return _arn(outcome)


def flaky_route_recovers(workflow: Workflow) -> str:
    # Given a route that answers 503 twice, then 200, and three attempts without waits
    with TargetService({"/health": Behaviour(failures_before_success=2)}) as target:
        # When the hook runs the suite
        outcome = workflow.run(suite_document(stage("smoke", route("health")), retry=NO_WAIT_RETRY), target.url)

    # Then the probe passed on its third attempt, each attempt and each retry in the history
    assert outcome.reported_status == "Succeeded"
    assert [(p["route"], p["attempts"], p["ok"]) for p in probes(outcome)] == [("health", 3, True)]
    assert [a["statusCode"] for a in attempts_of(outcome)] == [503, 503, 200]
    assert entered_states(outcome).count("Wait before retry") == 2
    return _arn(outcome)


def target_down(workflow: Workflow) -> str:
    # Given a target where nothing listens / When the hook runs the suite
    outcome = workflow.run(suite_document(stage("smoke", route("health")), retry=NO_WAIT_RETRY), closed_port_url())

    # Then every attempt was refused and CodeDeploy recorded Failed
    assert outcome.reported_status == "Failed"
    assert probes(outcome)[0]["reason"] == "connection refused"
    assert probes(outcome)[0]["attempts"] == 3
    return _arn(outcome)


def fail_fast_skips_later_stages_and_their_waits(workflow: Workflow) -> str:
    # Given a failing smoke stage and a soak stage that would wait 60 s between rounds
    with TargetService({"/health": Behaviour(status=500), "/ok": Behaviour()}) as target:
        document = suite_document(
            stage("smoke", route("health", retry={"maxAttempts": 1})),
            stage("soak", route("ok"), rounds=3, intervalSeconds=60),
        )

        # When the hook runs the suite
        started = time.monotonic()
        outcome = workflow.run(document, target.url)
        elapsed = time.monotonic() - started

    # Then the verdict comes without probing or waiting for the soak stage
    assert outcome.reported_status == "Failed"
    assert "/ok" not in target.hits
    assert "Wait before next round" not in entered_states(outcome)
    assert outcome.summary is not None
    assert [s["status"] for s in outcome.summary["stages"]] == ["failed", "skipped"]
    assert elapsed < 60
    return _arn(outcome)


def soak_over_budget_fails_fast(workflow: Workflow) -> str:
    # Given a route that keeps failing, in a stage of 4 rounds that tolerates one failed probe
    with TargetService({"/health": Behaviour(status=500)}) as target:
        document = suite_document(stage("soak", route("health", retry={"maxAttempts": 1}), rounds=4, maxFailedProbes=1))

        # When the hook runs the suite
        outcome = workflow.run(document, target.url)

    # Then it stops after the second failed round
    assert outcome.reported_status == "Failed"
    assert len(probes(outcome)) == 2
    return _arn(outcome)


def metric_gate_fails_on_the_error_rate_beside_a_passing_route(workflow: Workflow) -> str:
    # Given a healthy route, and a target group that answered 34 of its last 1000 requests with a 5xx
    target_group = new_target_group()
    seed_alb_traffic(workflow.engine, target_group, requests=1000, errors=34)
    error_rate = target_group_check("green-5xx-rate", target_group, errorRatePercent={"max": 1})
    with TargetService({"/health": Behaviour()}) as target:
        # When one stage probes the route and reads the error rate
        outcome = workflow.run(suite_document(stage("soak", route("health"), metrics=[error_rate])), target.url)

    # Then the probe passes, the reading fails saying what it measured, and so does the deployment
    assert outcome.reported_status == "Failed"
    assert [(result["route"], result["ok"], result["reason"]) for result in probes(outcome)] == [
        ("health", True, None),
        ("green-5xx-rate", False, "5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)"),
    ]
    assert outcome.summary is not None
    assert str(outcome.summary["reason"]).endswith(
        "green-5xx-rate (round 1): 5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)"
    )
    return _arn(outcome)


def reporter_crash_is_reported_by_the_safety_net(workflow: Workflow) -> str:
    # Given a reporter that crashes on every call (its SDK configuration is broken) and a passing service
    reporter = workflow.engine.app.function("ReporterFunction").name
    workflow.engine.configure_function(reporter, {"AWS_MAX_ATTEMPTS": "broken"})
    with TargetService({"/health": Behaviour()}) as target:
        hook_id, arn = workflow.start_hook(suite_document(stage("smoke", route("health")), base_url=target.url))

        # When the workflow cannot report and fails, and the reporter is then repaired
        execution_status = workflow.wait_for_execution_status(arn)
        workflow.engine.configure_function(reporter, {"AWS_MAX_ATTEMPTS": "6"})
        status = workflow.engine.codedeploy.wait_for_status(hook_id, timeout_seconds=60)

    # Then the execution ended FAILED in its report, and the safety net's retried delivery reported Failed, once
    assert execution_status == "FAILED"
    history = workflow.engine.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    failed = [event for event in history["events"] if event["type"] == "ExecutionFailed"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if e["type"].endswith("StateEntered")]
    assert len(failed) == 1
    assert entered[-1] == "Report to CodeDeploy"
    assert status == "Failed"
    assert workflow.engine.codedeploy.hook(hook_id).calls == ["Failed"]
    return arn


SCENARIOS = [
    all_routes_pass,
    flaky_route_recovers,
    target_down,
    fail_fast_skips_later_stages_and_their_waits,
    soak_over_budget_fails_fast,
    metric_gate_fails_on_the_error_rate_beside_a_passing_route,
    reporter_crash_is_reported_by_the_safety_net,
]
