"""A validation's progress through stages and rounds, as the workflow carries it between states.

The hook creates it, the tally advances it after every round, and the reporter reads the verdict
from it. It holds per-route aggregates, never every attempt, so it stays small for large suites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tollgate_core.suite import Suite

RUNNING, PASSED, FAILED = "running", "passed", "failed"
PENDING, SKIPPED = "pending", "skipped"
# What the workflow does next; the state machine's "Next step?" choice reads it.
NEXT_STAGE, NEXT_ROUND, REPORT = "next-stage", "next-round", "report"


def initial_progress(suite: Suite) -> dict[str, Any]:
    return {
        "stageIndex": 0,
        "round": 1,
        "next": NEXT_STAGE,
        "waitSeconds": 0,
        "outcome": RUNNING,
        "reason": None,
        "stages": [
            {
                "name": stage["name"],
                "status": PENDING,
                "rounds": stage["rounds"],
                "intervalSeconds": stage["intervalSeconds"],
                "maxFailedProbes": stage["maxFailedProbes"],
                "roundsRun": 0,
                "probes": 0,
                "failedProbes": 0,
                "routes": [],
            }
            for stage in suite.stages
        ],
    }


def tally_round(progress: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold one round's probe results into the progress and decide what comes next.

    Fail fast: once a stage has more failed probes than it allows, no further round or stage runs.
    """
    index = progress["stageIndex"]
    stage = _record_round(progress["stages"][index], results)
    stages = [*progress["stages"][:index], stage, *progress["stages"][index + 1 :]]
    advanced = {**progress, "stages": stages, "waitSeconds": 0}
    if stage["failedProbes"] > stage["maxFailedProbes"]:
        return _finish(advanced, index, FAILED, _over_budget_reason(stage, results))
    if stage["roundsRun"] < stage["rounds"]:
        return {
            **advanced,
            "round": stage["roundsRun"] + 1,
            "next": NEXT_ROUND,
            "waitSeconds": stage["intervalSeconds"],
        }
    if stage["failedProbes"] == stage["probes"]:
        return _finish(advanced, index, FAILED, f"stage '{stage['name']}': no probe passed")
    stages[index] = {**stage, "status": PASSED}
    if index + 1 < len(stages):
        return {**advanced, "stageIndex": index + 1, "round": 1, "next": NEXT_STAGE}
    return {**advanced, "next": REPORT, "outcome": PASSED}


def _record_round(stage: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    routes = {route["route"]: dict(route) for route in stage["routes"]}
    for result in results:
        routes[result["route"]] = _record_probe(routes.get(result["route"]), result)
    failed = sum(1 for result in results if not result["ok"])
    return {
        **stage,
        "status": RUNNING,
        "roundsRun": stage["roundsRun"] + 1,
        "probes": stage["probes"] + len(results),
        "failedProbes": stage["failedProbes"] + failed,
        "routes": list(routes.values()),
    }


def _record_probe(route: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    route = route or {
        "route": result["route"],
        "probes": 0,
        "failed": 0,
        "attempts": 0,
        "latencyMs": None,
        "lastReason": None,
    }
    latency = route["latencyMs"]
    measured = result.get("latencyMs")
    if measured is not None:
        latency = (
            {"min": measured, "max": measured, "sum": measured, "count": 1}
            if latency is None
            else {
                "min": min(latency["min"], measured),
                "max": max(latency["max"], measured),
                "sum": round(latency["sum"] + measured, 1),
                "count": latency["count"] + 1,
            }
        )
    return {
        **route,
        "probes": route["probes"] + 1,
        "failed": route["failed"] + (0 if result["ok"] else 1),
        "attempts": route["attempts"] + int(result.get("attempts") or 1),
        "latencyMs": latency,
        "lastReason": result.get("reason") or route["lastReason"],
    }


def _over_budget_reason(stage: dict[str, Any], results: list[dict[str, Any]]) -> str:
    reason = f"stage '{stage['name']}': {stage['failedProbes']} failed probes, budget {stage['maxFailedProbes']}"
    first = next((result for result in results if not result["ok"]), None)
    if first:
        reason += f"; {first['route']} (round {first['round']}): {first.get('reason')}"
    return reason


def _finish(progress: dict[str, Any], failed_index: int, outcome: str, reason: str) -> dict[str, Any]:
    stages = [
        {**stage, "status": FAILED if i == failed_index else (SKIPPED if i > failed_index else stage["status"])}
        for i, stage in enumerate(progress["stages"])
    ]
    return {**progress, "stages": stages, "next": REPORT, "outcome": outcome, "reason": reason}
