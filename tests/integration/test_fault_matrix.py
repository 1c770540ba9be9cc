"""The fault matrix: every way a validation can go wrong, and the one status CodeDeploy receives.

Each row: a scenario, the status the (local) CodeDeploy must record, and the deadline by which it
must be recorded. "none" is the one case where no status can be sent: an event without the ids.
Every scenario runs the real workflow on the embedded engine unless its row says otherwise.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes import RecordingStatusReporter
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService, closed_port_url
from tests.support.tls import self_signed_server_context
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import run_validation
from tollgate_core.checks import routes_of
from tollgate_core.contracts import HookStatus, ReportRequest
from tollgate_core.ports import HookIds
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.progress import initial_progress, tally_round
from tollgate_core.reporting import report_validation
from tollgate_core.suite import parse_suite

LIFECYCLE_EVENT = "AfterAllowTestTraffic"
ONE_ATTEMPT = {"maxAttempts": 1}
NO_WAIT_RETRY = {"maxAttempts": 3, "intervalSeconds": 0, "backoffRate": 1.0}


@dataclass
class Observed:
    status: str  # what CodeDeploy recorded: Succeeded, Failed, or "none"
    calls: list[str] = field(default_factory=list)  # every status call CodeDeploy received
    reason: str | None = None
    accepted_calls: int = 0  # the calls that set the status
    seconds_to_status: float | None = None  # from CodeDeploy waiting on the hook to the status it accepted


@dataclass
class Harness:
    engine: LocalEngine
    tmp_path: Path
    deadline_seconds: float

    @property
    def sfn(self) -> Any:
        return self.engine.client("stepfunctions")

    def function_name(self, logical_id: str) -> str:
        return self.engine.app.function(logical_id).name

    def validate(self, document: dict[str, Any], target: str | None = None) -> Observed:
        outcome = run_validation(
            self.engine,
            write_suite(self.tmp_path, document),
            target,
            LIFECYCLE_EVENT,
            timeout_seconds=self.deadline_seconds,
        )
        reason = outcome.summary["reason"] if outcome.summary else (outcome.hook_error or {}).get("errorMessage")
        return Observed(
            outcome.reported_status,
            outcome.status_calls,
            reason,
            outcome.accepted_status_calls,
            outcome.seconds_to_status,
        )

    def start_hook(self, document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Invoke the hook for a new deployment, as CodeDeploy does; return the hook id and the hook's answer."""
        hook_function = self.function_name("AfterAllowTestTrafficHookFunction")
        self.engine.configure_function(
            hook_function, {"SUITE_PATH": str(write_suite(self.tmp_path, document)), "TARGET_BASE_URL": ""}
        )
        hook = self.engine.codedeploy.create_deployment(LIFECYCLE_EVENT)
        answer = self.engine.invoke(
            hook_function, {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.hook_execution_id}
        )
        return hook.hook_execution_id, json.loads(answer.payload)

    def wait_for_execution(self, arn: str, statuses: tuple[str, ...]) -> str:
        deadline = time.monotonic() + self.deadline_seconds
        while time.monotonic() < deadline:
            status: str = self.sfn.describe_execution(executionArn=arn)["status"]
            if status in statuses:
                return status
            time.sleep(0.05)
        raise AssertionError(f"execution never reached {statuses}")

    def observed(self, hook_id: str) -> Observed:
        status = self.engine.codedeploy.wait_for_status(hook_id, self.deadline_seconds)
        hook = self.engine.codedeploy.hook(hook_id)
        return Observed(status, list(hook.calls), None, hook.accepted_calls, hook.seconds_to_status)


# --- the target misbehaves ------------------------------------------------------------------------


def all_routes_pass(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(), "/b": Behaviour()}) as target:
        return h.validate(suite_document(stage("smoke", route("a"), route("b"))), target.url)


def target_down(h: Harness) -> Observed:
    return h.validate(suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT))), closed_port_url())


def flapping_then_recovers(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(failures_before_success=2)}) as target:
        return h.validate(suite_document(stage("smoke", route("a")), retry=NO_WAIT_RETRY), target.url)


def slower_than_the_timeout(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(delay_seconds=1.0)}) as target:
        document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT)))
        document["target"]["timeoutSeconds"] = 0.2
        return h.validate(document, target.url)


def wrong_status(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(status=404)}) as target:
        return h.validate(suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT))), target.url)


def wrong_body(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(body="maintenance")}) as target:
        document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT, expect={"bodyContains": "ok"})))
        return h.validate(document, target.url)


def wrong_json_value(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(body={"status": "degraded"})}) as target:
        document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT, expect={"json": {"$.status": "ok"}})))
        return h.validate(document, target.url)


def huge_body(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(body_bytes=64 * 1024 * 1024)}) as target:
        document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT, expect={"bodyContains": "the end"})))
        return h.validate(document, target.url)


def redirect_loop(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(status=302, headers={"Location": "/a"})}) as target:
        return h.validate(
            suite_document(stage("smoke", route("a", followRedirects=True, retry=ONE_ATTEMPT))), target.url
        )


def tls_failure(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour()}, tls=self_signed_server_context()) as target:
        return h.validate(suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT))), target.url)


def unknown_host(h: Harness) -> Observed:
    """Domain level: no DNS query may leave this machine, so the resolver answers 'no such name' here."""
    original = socket.getaddrinfo

    def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "no-such-host.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = no_such_host
    started = time.monotonic()
    try:
        suite = parse_suite(
            suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT)), base_url="http://no-such-host.example")
        )
        result = probe_attempt(ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, 1, 1))
    finally:
        socket.getaddrinfo = original
    codedeploy = RecordingStatusReporter()
    request: ReportRequest = {
        "deployment": {
            "deploymentId": "d-1",
            "lifecycleEventHookExecutionId": "h-1",
            "lifecycleEvent": LIFECYCLE_EVENT,
        },
        "target": {"baseUrl": suite.target["baseUrl"], "verifyTls": True},
        "progress": tally_round(initial_progress(suite.stages), [result]),
        "error": None,
    }
    summary = report_validation(request, codedeploy)
    calls = [str(status) for _, status in codedeploy.calls]
    seconds = round(time.monotonic() - started, 3)
    return Observed(codedeploy.statuses[HookIds("d-1", "h-1")], calls, summary["reason"], len(calls), seconds)


def soak_within_budget(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(failures_before_success=1)}) as target:
        document = suite_document(stage("soak", route("a", retry=ONE_ATTEMPT), rounds=3, maxFailedProbes=1))
        return h.validate(document, target.url)


def soak_over_budget(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour(failures_before_success=2)}) as target:
        document = suite_document(stage("soak", route("a", retry=ONE_ATTEMPT), rounds=3, maxFailedProbes=1))
        return h.validate(document, target.url)


# --- our own functions fail -----------------------------------------------------------------------


def probe_function_timeout(h: Harness) -> Observed:
    h.engine.configure_function(h.function_name("ProbeFunction"), timeout_seconds=0.5)
    with TargetService({"/a": Behaviour(delay_seconds=2.0)}) as target:
        document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT)))
        document["target"]["timeoutSeconds"] = 5
        return h.validate(document, target.url)


def probe_function_crash(h: Harness) -> Observed:
    h.engine.configure_function(h.function_name("ProbeFunction"), {"PROBE_BODY_CAP_BYTES": "not-a-number"})
    with TargetService({"/a": Behaviour()}) as target:
        return h.validate(suite_document(stage("smoke", route("a"))), target.url)


def reporter_crash(h: Harness) -> Observed:
    # Given a reporter that crashes on every call (its SDK configuration is broken)
    reporter = h.function_name("ReporterFunction")
    h.engine.configure_function(reporter, {"AWS_MAX_ATTEMPTS": "broken"})
    with TargetService({"/a": Behaviour()}) as target:
        hook_id, started = h.start_hook(suite_document(stage("smoke", route("a")), base_url=target.url))
        # When the workflow cannot report and fails, and the reporter is then repaired
        h.wait_for_execution(started["executionArn"], ("FAILED",))
        h.engine.configure_function(reporter, {"AWS_MAX_ATTEMPTS": "6"})
        # Then the safety net's retried delivery reports Failed
        return h.observed(hook_id)


def execution_aborted(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour()}) as target:
        hook_id, started = h.start_hook(
            suite_document(stage("soak", route("a"), rounds=2, intervalSeconds=60), base_url=target.url)
        )
        _wait_for_state(h, started["executionArn"], "Wait before next round")
        h.sfn.stop_execution(executionArn=started["executionArn"], error="Operator", cause="stopped by hand")
        return h.observed(hook_id)


def execution_timed_out(h: Harness) -> Observed:
    # Given a state machine whose time budget is shorter than a slow probe
    sfn, state_machine = h.sfn, h.engine.state_machine
    definition = json.loads(state_machine.definition)
    sfn.update_state_machine(
        stateMachineArn=state_machine.arn, definition=json.dumps({**definition, "TimeoutSeconds": 1})
    )
    try:
        with TargetService({"/a": Behaviour(delay_seconds=3.0)}) as target:
            document = suite_document(stage("smoke", route("a", retry=ONE_ATTEMPT)), base_url=target.url)
            document["target"]["timeoutSeconds"] = 5
            hook_id, started = h.start_hook(document)
            h.wait_for_execution(started["executionArn"], ("TIMED_OUT",))
            return h.observed(hook_id)
    finally:
        sfn.update_state_machine(stateMachineArn=state_machine.arn, definition=state_machine.definition)


# --- CodeDeploy misbehaves ------------------------------------------------------------------------


def codedeploy_throttles_then_accepts(h: Harness) -> Observed:
    h.engine.codedeploy.fail_next_calls(2)
    with TargetService({"/a": Behaviour()}) as target:
        return h.validate(suite_document(stage("smoke", route("a"))), target.url)


def codedeploy_throttles_for_the_whole_validation(h: Harness) -> Observed:
    # Given CodeDeploy throttles every call while the workflow runs (the reporter gives up in bounded time)
    h.engine.configure_function(h.function_name("ReporterFunction"), {"AWS_MAX_ATTEMPTS": "2"})
    h.engine.codedeploy.fail_next_calls(10_000)
    with TargetService({"/a": Behaviour()}) as target:
        hook_id, started = h.start_hook(suite_document(stage("smoke", route("a")), base_url=target.url))
        h.wait_for_execution(started["executionArn"], ("FAILED",))
    # When it recovers, the safety net's retried delivery gets through: Failed, as nothing was confirmed
    h.engine.codedeploy.clear_faults()
    return h.observed(hook_id)


# --- duplicates and bad input ---------------------------------------------------------------------


def duplicate_hook_event(h: Harness) -> Observed:
    with TargetService({"/a": Behaviour()}) as target:
        hook_id, first = h.start_hook(suite_document(stage("smoke", route("a")), base_url=target.url))
        hook = h.engine.codedeploy.hook(hook_id)
        again = h.engine.invoke(
            h.function_name("AfterAllowTestTrafficHookFunction"),
            {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook_id},
        )
        # StartExecution is idempotent while the execution runs (same name, same input), and refused after
        answer = json.loads(again.payload)
        assert answer["executionArn"] in (first["executionArn"], None)
        observed = h.observed(hook_id)
        h.wait_for_execution(first["executionArn"], ("SUCCEEDED",))
    executions = h.sfn.list_executions(stateMachineArn=h.engine.state_machine.arn)["executions"]
    assert [e["executionArn"] for e in executions].count(first["executionArn"]) == 1
    return observed


def duplicate_safety_net_delivery(h: Harness) -> Observed:
    # Given a validation that was reported, and then a stray execution-ended event for it, twice
    with TargetService({"/a": Behaviour()}) as target:
        hook_id, started = h.start_hook(suite_document(stage("smoke", route("a")), base_url=target.url))
        h.wait_for_execution(started["executionArn"], ("SUCCEEDED",))
    execution = h.sfn.describe_execution(executionArn=started["executionArn"])
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {"executionArn": started["executionArn"], "status": "FAILED", "input": execution["input"]},
    }
    for _ in range(2):
        answer = h.engine.invoke(h.function_name("ReporterFunction"), event)
        assert answer.function_error is None, answer.payload
        assert json.loads(answer.payload)["codeDeploy"] == "already-completed"
    # Then CodeDeploy keeps the one status it first received
    return h.observed(hook_id)


def invalid_suite(h: Harness) -> Observed:
    return h.validate(suite_document(stage("smoke", route("a", expect={"status": "2x"}))), "http://127.0.0.1:9")


def start_execution_refused(h: Harness) -> Observed:
    hook_function = h.function_name("AfterAllowTestTrafficHookFunction")
    missing = h.engine.state_machine.arn + "-deleted"
    h.engine.configure_function(hook_function, {"STATE_MACHINE_ARN": missing})
    return h.validate(suite_document(stage("smoke", route("a"))), "http://127.0.0.1:9")


def malformed_hook_event(h: Harness) -> Observed:
    hook = h.engine.codedeploy.create_deployment(LIFECYCLE_EVENT)
    answer = h.engine.invoke(h.function_name("AfterAllowTestTrafficHookFunction"), {"DeploymentId": hook.deployment_id})
    assert answer.function_error is None
    assert json.loads(answer.payload)["started"] is False
    return Observed("none" if hook.status == HookStatus.PENDING else hook.status, list(hook.calls))


def _wait_for_state(h: Harness, arn: str, state: str) -> None:
    deadline = time.monotonic() + h.deadline_seconds
    while time.monotonic() < deadline:
        events = h.sfn.get_execution_history(executionArn=arn)["events"]
        if any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{state} never entered")


@dataclass(frozen=True)
class Scenario:
    run: Callable[[Harness], Observed]
    expected: str
    deadline_seconds: float
    reason: str | None = None  # part of the reason the verdict must give, where one is given


MATRIX = [
    Scenario(all_routes_pass, "Succeeded", 20),
    Scenario(target_down, "Failed", 20, "connection refused"),
    Scenario(flapping_then_recovers, "Succeeded", 20),
    Scenario(slower_than_the_timeout, "Failed", 20, "no response within 0.2 s"),
    Scenario(wrong_status, "Failed", 20, "status 404, expected 2xx"),
    Scenario(wrong_body, "Failed", 20, 'body does not contain "ok"'),
    Scenario(wrong_json_value, "Failed", 20, '$.status is "degraded", expected "ok"'),
    Scenario(huge_body, "Failed", 20, "(body truncated at the read cap)"),
    Scenario(redirect_loop, "Failed", 20, "more than 5 redirects"),
    Scenario(tls_failure, "Failed", 20, "TLS error"),
    Scenario(unknown_host, "Failed", 20, "DNS lookup failed for no-such-host.example"),
    Scenario(soak_within_budget, "Succeeded", 20),
    Scenario(soak_over_budget, "Failed", 20, "stage 'soak': 2 failed probes, budget 1"),
    Scenario(probe_function_timeout, "Failed", 20, "probe function failed: Sandbox.Timedout"),
    Scenario(probe_function_crash, "Failed", 20, "probe function failed: Runtime.ImportModuleError"),
    Scenario(reporter_crash, "Failed", 60),
    Scenario(execution_aborted, "Failed", 20),
    Scenario(execution_timed_out, "Failed", 20),
    Scenario(codedeploy_throttles_then_accepts, "Succeeded", 30),
    Scenario(codedeploy_throttles_for_the_whole_validation, "Failed", 60),
    Scenario(duplicate_hook_event, "Succeeded", 20),
    Scenario(duplicate_safety_net_delivery, "Succeeded", 20),
    Scenario(invalid_suite, "Failed", 20, "expect.status: must be"),
    Scenario(start_execution_refused, "Failed", 20, "StateMachineDoesNotExist"),
    Scenario(malformed_hook_event, "none", 20),
]


@pytest.fixture
def harness(engine: LocalEngine, tmp_path: Path) -> Callable[[float], Harness]:
    return lambda deadline: Harness(engine, tmp_path, deadline)


@pytest.mark.parametrize("scenario", MATRIX, ids=[scenario.run.__name__ for scenario in MATRIX])
def test_fault_matrix(scenario: Scenario, harness: Callable[[float], Harness]) -> None:
    # Given the scenario's fault / When a validation meets it
    observed = scenario.run(harness(scenario.deadline_seconds))

    # Then CodeDeploy accepted exactly the expected status, once, within the deadline, and the reason says why
    assert observed.status == scenario.expected, observed
    if scenario.expected == "none":
        assert (observed.calls, observed.accepted_calls) == ([], 0)
    else:
        assert observed.accepted_calls == 1, observed
        assert observed.seconds_to_status is not None, observed
        assert observed.seconds_to_status <= scenario.deadline_seconds, observed
    if scenario.reason:
        assert observed.reason is not None and scenario.reason in observed.reason, observed
