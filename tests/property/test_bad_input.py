"""Bad input of every shape: each case ends in a structured result, a clear error, or a reported Failed.

Never an unhandled exception while the deployment ids are known.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fakes import NoSuites, RecordingStarter, RecordingStatusReporter, nothing_to_read
from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tollgate_core.checks import routes_of
from tollgate_core.contracts import ExecutionInput, HookStatus, ReportRequest
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.ports import ExecutionState, HookIds
from tollgate_core.probing import ProbeRequest, probe_attempt, probe_event
from tollgate_core.reporting import report_validation
from tollgate_core.settings import EcsHookSettings, HookSettings
from tollgate_core.suite import Suite, SuiteError, parse_suite
from tollgate_core.validation_start import ValidationNotStarted, start_validation

# How many cases each property runs comes from the profile conftest.py loads: 1000 in `make test`.
CASES = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SUITE_KEYS = [
    "version",
    "target",
    "retry",
    "stages",
    "maxConcurrency",
    "name",
    "routes",
    "path",
    "expect",
    "status",
    "rounds",
    "intervalSeconds",
    "maxFailedProbes",
    "method",
    "headers",
    "body",
    "json",
    "bodyMatches",
    "maxAttempts",
    "backoffRate",
    "baseUrl",
    "timeoutSeconds",
    "verifyTls",
    "followRedirects",
    "invoke",
    "function",
    "payload",
    "fromDeployment",
]


def valid_document() -> dict[str, Any]:
    return suite_document(
        stage(
            "smoke", route("health", expect={"status": [200, "3xx"], "json": {"$.status": "ok"}, "bodyMatches": "o+"})
        ),
        stage("soak", route("orders", retry={"maxAttempts": 2}), rounds=3, maxFailedProbes=1),
        stage("api", {"name": "orders-api", "invoke": {"function": "shop-api:live", "payload": {"order": 1}}}),
    )


@st.composite
def mutated_suites(draw: st.DrawFn) -> Any:
    """A valid suite with one value somewhere replaced by anything, or a key added."""
    document = valid_document()
    containers: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            containers.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(document)
    container = draw(st.sampled_from(containers))
    if isinstance(container, dict):
        key = draw(st.sampled_from([*container, *SUITE_KEYS]))
        container[key] = draw(json_values)
    elif container:
        container[draw(st.integers(0, len(container) - 1))] = draw(json_values)
    return document


@CASES
@given(st.one_of(json_values, mutated_suites()))
def test_any_suite_document_is_accepted_or_rejected_with_named_problems(document: Any) -> None:
    try:
        suite = parse_suite(document)
    except SuiteError as error:
        assert error.problems
        assert all(": " in problem for problem in error.problems)
        return
    assert isinstance(suite, Suite)
    json.dumps(suite.document)


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(valid_document()), encoding="utf-8")
    return path


STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:v"
hook_ids = st.builds(HookIds, st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=400))


@CASES
@given(hook=hook_ids, suite=st.one_of(st.just(None), json_values, mutated_suites()), refuse=st.booleans())
def test_a_hook_with_ids_always_starts_a_validation_or_reports_failed(
    hook: HookIds, suite: Any, refuse: bool, suite_file: Path
) -> None:
    if suite is not None:
        suite_file.write_text(json.dumps(suite), encoding="utf-8")
    settings_ = HookSettings(str(suite_file), "AfterAllowTestTraffic", STATE_MACHINE_ARN, None, 3300)
    starter, reporter = RecordingStarter(), RecordingStatusReporter()
    if refuse:
        starter.start = _refuse  # type: ignore[method-assign]

    try:
        started = start_validation(hook, settings_, starter, reporter, nothing_to_read())
    except ValidationNotStarted:
        assert reporter.statuses == {hook: HookStatus.FAILED}
        return
    assert started.execution_name in starter.started
    assert reporter.calls == []


def _refuse(name: str, document: ExecutionInput) -> str:
    raise RuntimeError("StartExecution refused")


progress_values = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "outcome": st.sampled_from(["passed", "failed", "running"]) | json_values,
            "stages": json_values
            | st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.text(max_size=5),
                        "status": st.sampled_from(["passed", "pending"]),
                        "probes": st.integers(0, 5) | json_values,
                        "failedProbes": st.integers(0, 5),
                        "roundsRun": st.integers(0, 3),
                        "maxFailedProbes": st.integers(0, 3),
                        "routes": st.just([]) | json_values,
                    }
                ),
                max_size=3,
            ),
        },
    ),
)


@CASES
@given(hook=hook_ids, progress=progress_values, error=st.none() | json_values)
def test_the_reporter_sends_exactly_one_status_whatever_progress_it_gets(
    hook: HookIds, progress: Any, error: Any
) -> None:
    reporter = RecordingStatusReporter()
    deployment = {"deploymentId": hook.deployment_id, "lifecycleEventHookExecutionId": hook.hook_execution_id}

    summary = report_validation(
        cast(ReportRequest, {"deployment": deployment, "progress": progress, "error": error}), reporter
    )

    assert [status for _, status in reporter.calls] == [summary["status"]]
    assert summary["status"] in (HookStatus.SUCCEEDED, HookStatus.FAILED)
    if summary["status"] == HookStatus.SUCCEEDED:
        assert not error
        assert progress["outcome"] == "passed"
    json.dumps(summary)


@pytest.fixture(scope="module")
def target() -> Iterator[TargetService]:
    routes = {
        "/ok": Behaviour(body={"status": "ok"}),
        "/teapot": Behaviour(status=418, body="short and stout"),
        "/redirect": Behaviour(status=302, headers={"Location": "/ok"}),
    }
    with TargetService(routes) as service:
        yield service


probe_routes = st.fixed_dictionaries(
    {
        "name": st.just("r"),
        "path": st.sampled_from(["/ok", "/teapot", "/redirect", "/missing", "/ok?x=1"]),
        "method": st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        "followRedirects": st.booleans(),
        "body": st.none() | st.text(max_size=30) | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        "headers": st.dictionaries(st.sampled_from(["X-A", "Accept", "X-Trace"]), st.text(max_size=10), max_size=2),
        "expect": st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(["2xx", "4xx", 418, [200, "3xx"]]),
                "bodyContains": st.text(min_size=1, max_size=5),
                "json": st.just({"$.status": "ok"}),
                "headers": st.just({"Content-Type": "json"}),
                "maxLatencyMs": st.floats(0.001, 1000),
            },
        ),
        "retry": st.fixed_dictionaries({"maxAttempts": st.integers(1, 10), "intervalSeconds": st.integers(0, 5)}),
    }
)


@CASES
@given(probe_route=probe_routes, attempt=st.integers(1, 10))
def test_any_valid_probe_input_gives_a_structured_result(
    probe_route: dict[str, Any], attempt: int, target: TargetService
) -> None:
    try:
        suite = parse_suite(suite_document(stage("smoke", probe_route), base_url=target.url))
    except SuiteError:
        return
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, 1, attempt)

    result = probe_attempt(request, rng=random.Random(0))

    assert set(result) == {
        "stage",
        "route",
        "round",
        "attempts",
        "ok",
        "statusCode",
        "latencyMs",
        "reason",
        "final",
        "retryInSeconds",
    }
    assert result["ok"] is (result["reason"] is None)
    assert result["final"] or result["retryInSeconds"] >= 0


# Every field the probe reads, with a value of a type it cannot use (None where any JSON value would do).
PROBE_EVENT_FIELDS: dict[str, Any] = {
    "stage": 7,
    "round": "1",
    "probe": [],
    "probe.result": "x",
    "probe.result.attempts": True,
    "route": "health",
    "route.name": 1,
    "route.path": None,
    "route.method": ["GET"],
    "route.headers": "Accept: */*",
    "route.body": None,
    "route.followRedirects": "no",
    "route.retry": 3,
    "route.retry.maxAttempts": 2.5,
    "route.retry.intervalSeconds": "1",
    "route.retry.backoffRate": None,
    "route.expect": [],
    "route.expect.status": "2xx",
    "target": None,
    "target.baseUrl": {"url": "http://x"},
    "target.headers": [],
    "target.timeoutSeconds": "2",
    "target.verifyTls": 1,
}


def valid_probe_event() -> dict[str, Any]:
    suite = parse_suite(suite_document(stage("smoke", route("health"))))
    return {
        "stage": "smoke",
        "round": 1,
        "route": routes_of(suite.stages[0])[0],
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


@CASES
@given(field=st.sampled_from(sorted(PROBE_EVENT_FIELDS)), remove=st.booleans())
def test_a_probe_event_with_one_bad_field_is_a_failed_probe_naming_the_field(field: str, remove: bool) -> None:
    # Given a probe event with one field missing, or of a type the probe cannot use
    event = valid_probe_event()
    *parents, name = field.split(".")
    container = event
    for parent in parents:
        container = container[parent]
    if remove or field == "route.body":
        del container[name]
    else:
        container[name] = PROBE_EVENT_FIELDS[field]

    # When the probe gets it
    result = probe_event(event)

    # Then the probe is a failed, final one whose reason names that field, and nothing was sent
    assert (result["ok"], result["final"], result["statusCode"]) == (False, True, None)
    assert result["reason"] is not None
    assert result["reason"].startswith(f"malformed probe event: {field}: ")


def valid_invoke_event() -> dict[str, Any]:
    document = {"version": 1, "stages": [stage("api", {"name": "orders-api", "invoke": {"function": "shop-api"}})]}
    suite = parse_suite(document)
    return {
        "stage": "api",
        "round": 1,
        "route": routes_of(suite.stages[0])[0],
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


@CASES
@given(field=st.sampled_from(["invoke", "function", "payload", "timeoutSeconds"]), value=json_values)
def test_any_value_in_an_invocation_field_is_a_named_problem_or_an_attempt(field: str, value: Any) -> None:
    # Given an invoke route's event with any value in one field of its invocation
    event = valid_invoke_event()
    container = event["route"] if field == "invoke" else event["route"]["invoke"]
    container[field] = value

    # When the probe gets it, with nothing to invoke through
    result = probe_event(event)

    # Then it is a failed probe that names the malformed field, or an attempt that found no invoker
    assert result["ok"] is False
    assert result["reason"] is not None
    assert re.match(r"malformed probe event: route\.invoke[\w.]*: |no function invoker for ", result["reason"])
    json.dumps(result)


@CASES
@given(event=json_values)
def test_any_malformed_probe_event_is_a_failed_probe_naming_a_field(event: Any) -> None:
    result = probe_event(event)

    assert (result["ok"], result["final"]) == (False, True)
    assert result["reason"] is not None
    assert re.match(r"malformed probe event: [(\w.)]+: (missing|expected )", result["reason"])
    json.dumps(result)


class NoStepFunctions:
    """Nothing may reach Step Functions from a malformed event; if it does, the hook must still answer."""

    def start(self, name: str, document: ExecutionInput) -> str:
        raise RuntimeError("StartExecution refused")

    def read(self, execution_arn: str) -> ExecutionState:
        raise RuntimeError("DescribeExecution refused")


ECS_SETTINGS = EcsHookSettings(STATE_MACHINE_ARN, Path("suites"), None, 3300)


@CASES
@given(
    event=json_values
    | st.fixed_dictionaries(
        {
            "executionId": json_values,
            "lifecycleStage": st.sampled_from(["PRE_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])
            | json_values,
            "executionDetails": json_values,
            "hookDetails": json_values,
        }
    )
)
def test_the_ecs_hook_answers_any_event_with_a_status_ecs_accepts(event: Any) -> None:
    answer = answer_hook(event, ECS_SETTINGS, NoStepFunctions(), NoStepFunctions(), NoSuites())

    assert answer["hookStatus"] in ("SUCCEEDED", "FAILED")
    assert answer["hookStatus"] == "SUCCEEDED" or answer["hookDetails"]["reason"]
    json.dumps(answer)
