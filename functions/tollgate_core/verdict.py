"""The verdict CodeDeploy receives, and the summary operators read, from a validation's progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate_core.progress import PASSED, PENDING, RUNNING, SKIPPED

SUCCEEDED, FAILED = "Succeeded", "Failed"


@dataclass(frozen=True)
class Verdict:
    status: str  # what PutLifecycleEventHookExecutionStatus takes: Succeeded or Failed
    reason: str | None


def decide(progress: dict[str, Any] | None, error: dict[str, Any] | None) -> Verdict:
    """Succeeded only when every stage passed and something was measured; anything else fails."""
    try:
        return _decide(progress, error)
    except (KeyError, TypeError, AttributeError, ValueError) as unreadable:
        # Our own bug or a corrupted state must still end in a report, and never in a pass.
        return Verdict(FAILED, f"the validation progress is unreadable: {type(unreadable).__name__}: {unreadable}")


def _decide(progress: dict[str, Any] | None, error: dict[str, Any] | None) -> Verdict:
    if error:
        return Verdict(FAILED, workflow_error_reason(error))
    if not progress:
        return Verdict(FAILED, "the workflow carried no validation progress")
    if progress.get("outcome") != PASSED:
        return Verdict(FAILED, progress.get("reason") or "the validation did not finish")
    unfinished = [stage["name"] for stage in progress["stages"] if stage["status"] != PASSED]
    if unfinished:
        return Verdict(FAILED, f"stages did not pass: {', '.join(unfinished)}")
    passed = sum(stage["probes"] - stage["failedProbes"] for stage in progress["stages"])
    if passed == 0:
        return Verdict(FAILED, "no probe passed: nothing was measured")
    return Verdict(SUCCEEDED, None)


def workflow_error_reason(error: dict[str, Any]) -> str:
    cause = str(error.get("Cause") or "")[:200]
    return f"workflow error {error.get('Error', 'unknown')}: {cause}".rstrip(": ")


def summarize(
    deployment: dict[str, Any],
    progress: dict[str, Any] | None,
    verdict: Verdict,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The execution's output: the verdict, per stage and per route, readable in the console."""
    summary = {"status": verdict.status, "reason": verdict.reason, "deployment": deployment, "target": target}
    try:
        stages = [_stage_summary(stage) for stage in (progress or {}).get("stages", [])]
    except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return {**summary, "stages": [], "summaryError": "the validation progress is unreadable"}
    return {**summary, "stages": stages}


def _stage_summary(stage: dict[str, Any]) -> dict[str, Any]:
    status = SKIPPED if stage["status"] in (PENDING, RUNNING) and stage["roundsRun"] == 0 else stage["status"]
    if status == RUNNING:
        status = "interrupted"
    return {
        "name": stage["name"],
        "status": status,
        "roundsRun": stage["roundsRun"],
        "probes": stage["probes"],
        "failedProbes": stage["failedProbes"],
        "maxFailedProbes": stage["maxFailedProbes"],
        "routes": [_route_summary(route) for route in stage["routes"]],
    }


def _route_summary(route: dict[str, Any]) -> dict[str, Any]:
    latency = route["latencyMs"]
    return {
        "route": route["route"],
        "passed": route["probes"] - route["failed"],
        "failed": route["failed"],
        "attempts": route["attempts"],
        "latencyMs": None
        if latency is None
        else {"min": latency["min"], "max": latency["max"], "mean": round(latency["sum"] / latency["count"], 1)},
        "lastReason": route["lastReason"],
    }
