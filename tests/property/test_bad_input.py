"""Bad input of every shape: each case ends in a structured result, a clear error, or a reported Failed.

Never an unhandled exception while the deployment ids are known.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.property.strategies import CASES, json_values
from tests.support.fakes import NoSuites, RecordingStarter, RecordingStatusReporter, nothing_to_read
from tests.support.suites import route, stage, suite_document
from tollgate_core.contracts import ExecutionInput, HookStatus, ReportRequest
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.ports import ExecutionState, HookIds
from tollgate_core.reporting import report_validation
from tollgate_core.settings import EcsHookSettings, HookSettings
from tollgate_core.suite import Suite, SuiteError, parse_suite
from tollgate_core.validation_start import ValidationNotStarted, start_validation

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
