from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document
from tollgate_core.contracts import (
    Controller,
    Deployment,
    HookStatus,
    LambdaError,
    NextStep,
    ProbeResult,
    Progress,
    StageStatus,
    SuiteSourceKind,
    WorkflowState,
)
from tollgate_core.progress import initial_progress, tally_round
from tollgate_core.suite import parse_suite
from tollgate_core.validation_start import execution_input as execution_input_for
from tollgate_core.verdict import Verdict, decide, summarize

NEXT_ROUND, NEXT_STAGE, REPORT = NextStep.NEXT_ROUND, NextStep.NEXT_STAGE, NextStep.REPORT
FAILED, SUCCEEDED = HookStatus.FAILED, HookStatus.SUCCEEDED


def result(route_name: str, ok: bool, round_number: int = 1, **extra: Any) -> ProbeResult:
    probe: ProbeResult = {
        "stage": "s",
        "route": route_name,
        "round": round_number,
        "attempts": 1,
        "ok": ok,
        "statusCode": 200 if ok else 500,
        "latencyMs": 10.0,
        "reason": None if ok else "status 500, expected 2xx",
        "final": True,
        "retryInSeconds": 0,
    }
    return {**probe, **extra}  # type: ignore[typeddict-item] # the test's overrides of the same keys


def progress_for(*stages: dict[str, Any]) -> Progress:
    return initial_progress(parse_suite(suite_document(*stages)).stages)


def test_rounds_then_stages_then_report() -> None:
    # Given two stages, the first with two rounds 5 s apart
    progress = progress_for(stage("smoke", route("a"), rounds=2, intervalSeconds=5), stage("soak", route("a")))

    # When every probe passes, round after round
    after_round_1 = tally_round(progress, [result("a", True)])
    after_round_2 = tally_round(after_round_1, [result("a", True, 2)])
    after_soak = tally_round(after_round_2, [result("a", True)])

    # Then the workflow waits, moves to the next stage, and finally reports a pass
    assert (after_round_1["next"], after_round_1["round"], after_round_1["waitSeconds"]) == (NEXT_ROUND, 2, 5)
    assert (after_round_2["next"], after_round_2["stageIndex"], after_round_2["round"]) == (NEXT_STAGE, 1, 1)
    assert after_round_2["waitSeconds"] == 0
    assert (after_soak["next"], after_soak["outcome"]) == (REPORT, "passed")
    assert decide(after_soak, None).status == SUCCEEDED


def test_a_stage_within_its_failure_budget_passes() -> None:
    progress = progress_for(stage("soak", route("a"), route("b"), rounds=2, maxFailedProbes=1))

    progress = tally_round(progress, [result("a", True), result("b", False)])
    progress = tally_round(progress, [result("a", True, 2), result("b", True, 2)])

    assert progress["outcome"] == "passed"
    assert progress["stages"][0]["failedProbes"] == 1


def test_fail_fast_once_a_stage_is_over_its_budget() -> None:
    # Given a stage of 5 rounds allowing one failed probe, and a later stage
    progress = progress_for(
        stage("soak", route("a"), route("b"), rounds=5, maxFailedProbes=1), stage("later", route("a"))
    )

    # When the first round already has two failed probes
    progress = tally_round(progress, [result("a", False), result("b", False)])

    # Then no further round or stage runs, and the reason names the stage and the budget
    assert (progress["next"], progress["outcome"]) == (REPORT, "failed")
    assert [s["status"] for s in progress["stages"]] == ["failed", "skipped"]
    assert progress["reason"] == ("stage 'soak': 2 failed probes, budget 1; a (round 1): status 500, expected 2xx")
    verdict = decide(progress, None)
    assert verdict == (verdict.__class__(FAILED, progress["reason"]))


def test_all_measurements_errored_is_never_a_pass() -> None:
    # Given a budget that allows the single route to fail in one of two rounds
    progress = progress_for(stage("soak", route("a"), rounds=2, maxFailedProbes=1))
    forged: Progress = {
        **progress,
        "outcome": StageStatus.PASSED,
        "stages": [{**progress["stages"][0], "status": StageStatus.PASSED}],
    }

    # Then a stage whose probes all failed is no pass, and a progress claiming a pass with nothing measured fails
    progress = tally_round(progress, [result("a", False, statusCode=None)])
    assert progress["next"] == NEXT_ROUND
    progress = tally_round(progress, [result("a", True, 2)])
    assert progress["outcome"] == "passed"
    assert decide(forged, None) == decide(forged, None).__class__(FAILED, "no probe passed: nothing was measured")


def test_a_stage_whose_probes_all_failed_fails_even_within_its_budget() -> None:
    # Given a progress whose first stage allows both its probes to fail, as no validated suite does
    # (an execution started by hand with its own input), and a later stage that would pass
    progress = progress_for(stage("smoke", route("a"), rounds=2, maxFailedProbes=1), stage("soak", route("a")))
    progress["stages"][0]["maxFailedProbes"] = 2

    # When both rounds of the first stage fail
    progress = tally_round(progress, [result("a", False)])
    progress = tally_round(progress, [result("a", False, 2)])

    # Then the stage fails for want of a single pass, the later stage never runs, and CodeDeploy gets Failed
    assert (progress["next"], progress["outcome"]) == (REPORT, "failed")
    assert [s["status"] for s in progress["stages"]] == ["failed", "skipped"]
    assert decide(progress, None) == Verdict(FAILED, "stage 'smoke': no probe passed")


def test_a_workflow_error_fails_with_its_cause() -> None:
    verdict = decide(None, {"Error": "States.Timeout", "Cause": "probe timed out"})

    assert verdict.status == FAILED
    assert verdict.reason == "workflow error States.Timeout: probe timed out"


def test_per_route_aggregates_in_the_summary() -> None:
    progress = progress_for(stage("soak", route("a"), rounds=3, maxFailedProbes=1))
    for n, (ok, latency) in enumerate([(True, 10.0), (False, 30.0), (True, 20.0)], start=1):
        progress = tally_round(progress, [result("a", ok, n, latencyMs=latency, attempts=2 if not ok else 1)])

    deployment: Deployment = {
        "deploymentId": "d-1",
        "lifecycleEventHookExecutionId": "h-1",
        "lifecycleEvent": "AfterAllowTraffic",
    }
    summary = summarize(deployment, progress, decide(progress, None))

    assert summary["status"] == SUCCEEDED
    assert summary["stages"][0]["routes"] == [
        {
            "route": "a",
            "passed": 2,
            "failed": 1,
            "attempts": 4,
            "latencyMs": {"min": 10.0, "max": 30.0, "mean": 20.0},
            "lastReason": "status 500, expected 2xx",
        }
    ]


def test_state_data_for_200_routes_and_10_rounds_stays_well_under_256_kib() -> None:
    # Given the largest suite the workflow is sized for, with realistic routes
    routes = [
        route(f"route-{i:03d}", f"/api/v1/items/{i}", expect={"status": [200, 204], "json": {"$.status": "ok"}})
        for i in range(200)
    ]
    suite = parse_suite(suite_document(stage("soak", *routes, rounds=10, maxFailedProbes=50)))
    deployment: Deployment = {
        "deploymentId": "d-ABCDEFGHI",
        "lifecycleEventHookExecutionId": "x" * 300,
        "lifecycleEvent": "AfterAllowTestTraffic",
        "controller": Controller.CODEDEPLOY,
        "suiteSource": {"kind": SuiteSourceKind.S3, "location": "s3://" + "b" * 63 + "/" + "k" * 200, "etag": "e" * 32},
    }
    execution_input = execution_input_for(deployment, suite)

    # When all ten rounds are tallied, each with failures carrying long reasons
    largest = 0
    for n in range(1, 11):
        results = [
            result(r["name"], i % 40 != 0, n, latencyMs=123.4, reason=None if i % 40 else "r" * 160)
            for i, r in enumerate(routes)
        ]
        state: WorkflowState = {
            **execution_input,
            "current": {"stage": suite.stages[0], "round": n, "target": suite.target, "maxConcurrency": 10},
            "roundResults": results,
        }
        largest = max(largest, len(json.dumps(state)))
        execution_input["validation"] = {"progress": tally_round(state["validation"]["progress"], results)}
        largest = max(largest, len(json.dumps({**state, "validation": execution_input["validation"]})))

    # Then the largest state is well under the 256 KiB that Step Functions allows
    assert largest < 200 * 1024, largest


DEPLOYMENT: Deployment = {
    "deploymentId": "d-1",
    "lifecycleEventHookExecutionId": "h-1",
    "lifecycleEvent": "AfterAllowTraffic",
}


def test_a_failure_in_a_later_stage_keeps_the_earlier_stages_passed_and_skips_the_rest() -> None:
    # Given three stages
    progress = progress_for(stage("smoke", route("a")), stage("soak", route("a")), stage("final", route("a")))

    # When the first passes and the second fails
    progress = tally_round(progress, [result("a", True)])
    progress = tally_round(progress, [result("a", False)])

    # Then each stage says what happened to it
    assert [s["status"] for s in progress["stages"]] == ["passed", "failed", "skipped"]
    assert progress["reason"] == "stage 'soak': 1 failed probes, budget 0; a (round 1): status 500, expected 2xx"


def test_a_stage_between_its_rounds_is_running() -> None:
    progress = progress_for(stage("soak", route("a"), rounds=2), stage("later", route("a")))

    progress = tally_round(progress, [result("a", True)])

    assert [s["status"] for s in progress["stages"]] == ["running", "pending"]


def test_a_probe_that_recorded_no_attempts_counts_as_one() -> None:
    # Given a probe result without an attempt count (a crashed probe, as the workflow records it)
    progress = progress_for(stage("soak", route("a"), rounds=2, maxFailedProbes=1))

    progress = tally_round(progress, [result("a", False, attempts=0)])

    assert progress["stages"][0]["routes"][0]["attempts"] == 1


def test_latency_sums_are_kept_to_a_tenth_of_a_millisecond() -> None:
    progress = progress_for(stage("soak", route("a"), rounds=3))

    for n, latency in enumerate([10.04, 10.04, 10.04], start=1):
        progress = tally_round(progress, [result("a", True, n, latencyMs=latency)])

    assert progress["stages"][0]["routes"][0]["latencyMs"] == {"min": 10.04, "max": 10.04, "sum": 30.1, "count": 3}


def test_the_summary_shows_every_stage_and_route_as_the_console_reads_it() -> None:
    # Given a validation that passed, one route measured three times, another never answering in time
    progress = progress_for(stage("soak", route("a"), route("b"), rounds=3, maxFailedProbes=3))
    for n, latency in enumerate([10.0, 10.1, 10.1], start=1):
        no_answer = result("b", False, n, latencyMs=None, statusCode=None, reason="no response within 2 s")
        progress = tally_round(progress, [result("a", True, n, latencyMs=latency), no_answer])

    # When it is summarized with the target it probed
    summary = summarize(
        DEPLOYMENT, progress, decide(progress, None), {"baseUrl": "http://10.0.0.1", "verifyTls": False}
    )

    # Then the summary names everything, latencies as min, max and mean to a tenth of a millisecond
    assert summary == {
        "status": SUCCEEDED,
        "reason": None,
        "deployment": DEPLOYMENT,
        "target": {"baseUrl": "http://10.0.0.1", "verifyTls": False},
        "stages": [
            {
                "name": "soak",
                "status": "passed",
                "roundsRun": 3,
                "probes": 6,
                "failedProbes": 3,
                "maxFailedProbes": 3,
                "routes": [
                    {
                        "route": "a",
                        "passed": 3,
                        "failed": 0,
                        "attempts": 3,
                        "latencyMs": {"min": 10.0, "max": 10.1, "mean": 10.1},
                        "lastReason": None,
                    },
                    {
                        "route": "b",
                        "passed": 0,
                        "failed": 3,
                        "attempts": 3,
                        "latencyMs": None,
                        "lastReason": "no response within 2 s",
                    },
                ],
            }
        ],
    }


def test_a_validation_the_workflow_interrupted_shows_where_it_stopped() -> None:
    # Given a workflow that failed after the first of two rounds of its first stage
    progress = progress_for(stage("soak", route("a"), rounds=2), stage("later", route("a")))
    progress = tally_round(progress, [result("a", True)])
    error: LambdaError = {"Error": "States.Timeout", "Cause": "the probe timed out"}

    # When it is summarized
    summary = summarize(DEPLOYMENT, progress, decide(progress, error))

    # Then the stage that was running is interrupted, the one that never ran skipped
    assert (summary["status"], summary["reason"]) == (FAILED, "workflow error States.Timeout: the probe timed out")
    assert [(s["name"], s["status"], s["roundsRun"]) for s in summary["stages"]] == [
        ("soak", "interrupted", 1),
        ("later", "skipped", 0),
    ]


def test_a_summary_without_progress_has_no_stages() -> None:
    verdict = decide(None, None)

    summary = summarize(DEPLOYMENT, None, verdict)

    assert summary == {
        "status": FAILED,
        "reason": verdict.reason,
        "deployment": DEPLOYMENT,
        "target": None,
        "stages": [],
    }


def test_an_unreadable_progress_still_gives_a_summary_that_says_so() -> None:
    progress: Any = {"outcome": "failed", "reason": "r", "stages": [{"name": "soak"}]}

    summary = summarize(DEPLOYMENT, progress, decide(progress, None))

    assert summary == {
        "status": FAILED,
        "reason": "r",
        "deployment": DEPLOYMENT,
        "target": None,
        "stages": [],
        "summaryError": "the validation progress is unreadable",
    }


@pytest.mark.parametrize(
    ("progress", "reason"),
    [
        (None, "the workflow carried no validation progress"),
        ({"outcome": "running", "reason": None, "stages": []}, "the validation did not finish"),
        (
            {"outcome": "failed", "reason": "stage 'soak': 2 failed probes, budget 1"},
            "stage 'soak': 2 failed probes, budget 1",
        ),
        (
            {
                "outcome": "passed",
                "stages": [
                    {"name": "a", "status": "passed"},
                    {"name": "b", "status": "skipped"},
                    {"name": "c", "status": "running"},
                ],
            },
            "stages did not pass: b, c",
        ),
        (
            {"outcome": "passed", "stages": [{"name": "a", "status": "passed", "probes": 2, "failedProbes": 2}]},
            "no probe passed: nothing was measured",
        ),
        ({"outcome": "passed"}, "the validation progress is unreadable: KeyError: 'stages'"),
        (
            {"outcome": "passed", "stages": [7]},
            "the validation progress is unreadable: TypeError: 'int' object is not subscriptable",
        ),
    ],
)
def test_every_progress_short_of_a_full_pass_fails_saying_why(progress: Any, reason: str) -> None:
    assert decide(progress, None) == Verdict(FAILED, reason)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ({"Error": "States.Timeout"}, "workflow error States.Timeout"),
        ({"Error": "States.Timeout", "Cause": None}, "workflow error States.Timeout"),
        ({"Cause": "boom"}, "workflow error unknown: boom"),
        ({"Error": "States.TaskFailed", "Cause": "exit code X"}, "workflow error States.TaskFailed: exit code X"),
        ({"Error": "Lambda.Unknown", "Cause": "x" * 300}, "workflow error Lambda.Unknown: " + "x" * 200),
    ],
)
def test_a_workflow_error_names_its_error_and_at_most_200_characters_of_its_cause(error: Any, reason: str) -> None:
    assert decide(None, error) == Verdict(FAILED, reason)
