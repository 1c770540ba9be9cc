"""A validation's progress through stages and rounds, as the workflow carries it between states.

The hook creates it, the tally advances it after every round, and the reporter reads the verdict
from it. It holds per-route aggregates, never every attempt, so it stays small for large suites.
"""

from __future__ import annotations

from tollgate_core.contracts import (
    LatencyAggregate,
    NextStep,
    ProbeResult,
    Progress,
    RouteProgress,
    Stage,
    StageProgress,
    StageStatus,
)


def initial_progress(stages: list[Stage]) -> Progress:
    return {
        "stageIndex": 0,
        "round": 1,
        "next": NextStep.NEXT_STAGE,
        "waitSeconds": 0,
        "outcome": StageStatus.RUNNING,
        "reason": None,
        "stages": [
            {
                "name": stage["name"],
                "status": StageStatus.PENDING,
                "rounds": stage["rounds"],
                "intervalSeconds": stage["intervalSeconds"],
                "maxFailedProbes": stage["maxFailedProbes"],
                "roundsRun": 0,
                "probes": 0,
                "failedProbes": 0,
                "routes": [],
            }
            for stage in stages
        ],
    }


def tally_round(progress: Progress, results: list[ProbeResult]) -> Progress:
    """Fold one round's probe results into the progress and decide what comes next.

    Fail fast: once a stage has more failed probes than it allows, no further round or stage runs.
    """
    index = progress["stageIndex"]
    stage = _record_round(progress["stages"][index], results)
    stages = [*progress["stages"][:index], stage, *progress["stages"][index + 1 :]]
    advanced: Progress = {**progress, "stages": stages, "waitSeconds": 0}
    if stage["failedProbes"] > stage["maxFailedProbes"]:
        return _finish(advanced, index, _over_budget_reason(stage, results))
    if stage["roundsRun"] < stage["rounds"]:
        return {
            **advanced,
            "round": stage["roundsRun"] + 1,
            "next": NextStep.NEXT_ROUND,
            "waitSeconds": stage["intervalSeconds"],
        }
    if stage["failedProbes"] == stage["probes"]:
        # A validated suite's budget never allows this, but the tally trusts the progress it is handed, and the
        # verdict's own guard counts passes over all stages: this is the guard for one stage (docs/mutation.md).
        return _finish(advanced, index, f"stage '{stage['name']}': no probe passed")
    stages[index] = {**stage, "status": StageStatus.PASSED}
    if index + 1 < len(stages):
        return {**advanced, "stageIndex": index + 1, "round": 1, "next": NextStep.NEXT_STAGE}
    return {**advanced, "next": NextStep.REPORT, "outcome": StageStatus.PASSED}


def _record_round(stage: StageProgress, results: list[ProbeResult]) -> StageProgress:
    routes = {route["route"]: route for route in stage["routes"]}
    for result in results:
        routes[result["route"]] = _record_probe(routes.get(result["route"]), result)
    failed = sum(1 for result in results if not result["ok"])
    return {
        **stage,
        "status": StageStatus.RUNNING,
        "roundsRun": stage["roundsRun"] + 1,
        "probes": stage["probes"] + len(results),
        "failedProbes": stage["failedProbes"] + failed,
        "routes": list(routes.values()),
    }


def _record_probe(route: RouteProgress | None, result: ProbeResult) -> RouteProgress:
    route = route or {
        "route": result["route"],
        "probes": 0,
        "failed": 0,
        "attempts": 0,
        "latencyMs": None,
        "lastReason": None,
    }
    return {
        **route,
        "probes": route["probes"] + 1,
        "failed": route["failed"] + (0 if result["ok"] else 1),
        "attempts": route["attempts"] + int(result.get("attempts") or 1),
        "latencyMs": _record_latency(route["latencyMs"], result.get("latencyMs")),
        "lastReason": result.get("reason") or route["lastReason"],
    }


def _record_latency(latency: LatencyAggregate | None, measured: float | None) -> LatencyAggregate | None:
    if measured is None:
        return latency
    if latency is None:
        return {"min": measured, "max": measured, "sum": measured, "count": 1}
    return {
        "min": min(latency["min"], measured),
        "max": max(latency["max"], measured),
        "sum": round(latency["sum"] + measured, 1),
        "count": latency["count"] + 1,
    }


def _over_budget_reason(stage: StageProgress, results: list[ProbeResult]) -> str:
    reason = f"stage '{stage['name']}': {stage['failedProbes']} failed probes, budget {stage['maxFailedProbes']}"
    first = next((result for result in results if not result["ok"]), None)
    if first:
        reason += f"; {first['route']} (round {first['round']}): {first.get('reason')}"
    return reason


def _finish(progress: Progress, failed_index: int, reason: str) -> Progress:
    stages: list[StageProgress] = [
        {**stage, "status": _status_after_failure(stage, i, failed_index)} for i, stage in enumerate(progress["stages"])
    ]
    return {**progress, "stages": stages, "next": NextStep.REPORT, "outcome": StageStatus.FAILED, "reason": reason}


def _status_after_failure(stage: StageProgress, index: int, failed_index: int) -> StageStatus:
    if index == failed_index:
        return StageStatus.FAILED
    return StageStatus.SKIPPED if index > failed_index else stage["status"]
