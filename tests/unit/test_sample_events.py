"""The sample events in events/ (for `sam local invoke -e`) are ones the handlers accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from tests.support.fakes import KnownFailures, RecordingStatusReporter
from tollgate_core.contracts import ReportRequest
from tollgate_core.ecs_hook import EcsHookEvent, is_rollback
from tollgate_core.metric_reading import MetricReadingRequest
from tollgate_core.ports import HookIds
from tollgate_core.probing import ProbeRequest
from tollgate_core.progress import tally_round
from tollgate_core.reporting import EndedExecution, report_ended_execution, report_validation

EVENTS = Path(__file__).resolve().parents[2] / "events"


def event(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return document


def test_the_hook_event_carries_both_ids() -> None:
    hook = event("hook.json")

    assert hook["DeploymentId"].startswith("d-")
    assert len(hook["LifecycleEventHookExecutionId"]) > 200


def test_the_probe_event_is_a_probe_request() -> None:
    assert ProbeRequest.from_event(event("probe.json")).attempt == 1


def test_the_metric_reader_event_is_a_reading_request() -> None:
    assert MetricReadingRequest.from_event(event("metric-reader.json")).check["name"] == "green-5xx-rate"


def test_the_tally_event_advances_to_the_next_stage() -> None:
    tally = event("tally.json")

    assert tally_round(tally["progress"], tally["results"])["next"] == "next-stage"


def test_the_reporter_events_report_succeeded_and_failed() -> None:
    reporter = RecordingStatusReporter()
    for name in ("reporter-passed.json", "reporter-failed.json"):
        sample = event(name)
        report_validation(cast(ReportRequest, sample), reporter)

    assert [status for _, status in reporter.calls] == ["Succeeded", "Failed"]


def test_the_dry_run_reporter_event_reports_succeeded_saying_it_would_have_failed() -> None:
    reporter = RecordingStatusReporter()

    output = report_validation(cast(ReportRequest, event("reporter-dry-run.json")), reporter)

    assert [status for _, status in reporter.calls] == ["Succeeded"]
    assert (output["status"], output["wouldHaveFailed"]) == ("Failed", True)


def test_the_execution_status_change_event_reports_failed_once() -> None:
    reporter = RecordingStatusReporter()
    ended = EndedExecution.from_detail(event("execution-status-change.json")["detail"])

    first = report_ended_execution(ended, reporter, KnownFailures())
    second = report_ended_execution(ended, reporter, KnownFailures())

    assert first is not None and second is not None
    assert (first["codeDeploy"], second["codeDeploy"]) == ("recorded", "already-completed")
    assert list(reporter.statuses.values()) == ["Failed"]
    assert next(iter(reporter.statuses)) == HookIds("d-AB12CD34E", event("hook.json")["LifecycleEventHookExecutionId"])


def test_the_ecs_hook_event_is_a_first_invocation_for_the_test_traffic() -> None:
    invocation = EcsHookEvent.from_event(event("ecs-hook.json"))

    assert (invocation.lifecycle_stage, invocation.test_weight, invocation.production_weight) == (
        "POST_TEST_TRAFFIC_SHIFT",
        100,
        0,
    )
    assert invocation.hook_details == {"suite": "after-allow-test-traffic"}
    assert not is_rollback(invocation)
