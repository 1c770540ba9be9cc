from __future__ import annotations

import json
from typing import Any

from tests.support.suites import route, stage, suite_document
from tollgate_core.contracts import Deployment, HookStatus, NextStep, ProbeResult, Progress, StageStatus, WorkflowState
from tollgate_core.ports import HookIds
from tollgate_core.progress import initial_progress, tally_round
from tollgate_core.suite import parse_suite
from tollgate_core.validation_start import workflow_input
from tollgate_core.verdict import decide, summarize

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
    execution_input = workflow_input(HookIds("d-ABCDEFGHI", "x" * 300), "AfterAllowTestTraffic", suite)

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
