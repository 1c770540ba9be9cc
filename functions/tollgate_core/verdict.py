"""The verdict CodeDeploy receives, and the summary operators read, from a validation's progress."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate_core.contracts import (
    Deployment,
    EcsDeployment,
    HookStatus,
    LambdaError,
    Progress,
    RouteProgress,
    RouteSummary,
    StageProgress,
    StageStatus,
    StageSummary,
    TargetSummary,
    ValidationSummary,
)


@dataclass(frozen=True)
class Verdict:
    status: HookStatus  # what PutLifecycleEventHookExecutionStatus takes: Succeeded or Failed
    reason: str | None


def decide(progress: Progress | None, error: LambdaError | None) -> Verdict:
    """Succeeded only when every stage passed and something was measured; anything else fails."""
    try:
        return _decide(progress, error)
    except (KeyError, TypeError, AttributeError, ValueError) as unreadable:
        # Our own bug or a corrupted state must still end in a report, and never in a pass.
        return Verdict(
            HookStatus.FAILED, f"the validation progress is unreadable: {type(unreadable).__name__}: {unreadable}"
        )


def _decide(progress: Progress | None, error: LambdaError | None) -> Verdict:
    if error:
        return Verdict(HookStatus.FAILED, workflow_error_reason(error))
    if not progress:
        return Verdict(HookStatus.FAILED, "the workflow carried no validation progress")
    if progress.get("outcome") != StageStatus.PASSED:
        return Verdict(HookStatus.FAILED, progress.get("reason") or "the validation did not finish")
    unfinished = [stage["name"] for stage in progress["stages"] if stage["status"] != StageStatus.PASSED]
    if unfinished:
        return Verdict(HookStatus.FAILED, f"stages did not pass: {', '.join(unfinished)}")
    passed = sum(stage["probes"] - stage["failedProbes"] for stage in progress["stages"])
    if passed == 0:
        return Verdict(HookStatus.FAILED, "no probe passed: nothing was measured")
    return Verdict(HookStatus.SUCCEEDED, None)


def reported_status(verdict: Verdict, dry_run: bool) -> HookStatus:
    """What the deployment receives: the verdict, or Succeeded for a dry run, which never blocks a deployment."""
    return HookStatus.SUCCEEDED if dry_run else verdict.status


def workflow_error_reason(error: LambdaError) -> str:
    cause = str(error.get("Cause") or "")[:200]
    return f"workflow error {error.get('Error', 'unknown')}: {cause}".rstrip(": ")


def summarize(
    deployment: Deployment | EcsDeployment,
    progress: Progress | None,
    verdict: Verdict,
    target: TargetSummary | None = None,
) -> ValidationSummary:
    """The execution's output: the verdict, per stage and per route, readable in the console."""
    summary: ValidationSummary = {
        "status": verdict.status,
        "reason": verdict.reason,
        "deployment": deployment,
        "target": target,
        "stages": [],
    }
    try:
        stages = [_stage_summary(stage) for stage in (progress["stages"] if progress and "stages" in progress else [])]
    except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return {**summary, "summaryError": "the validation progress is unreadable"}
    return {**summary, "stages": stages}


def _stage_summary(stage: StageProgress) -> StageSummary:
    return {
        "name": stage["name"],
        "status": _summary_status(stage),
        "roundsRun": stage["roundsRun"],
        "probes": stage["probes"],
        "failedProbes": stage["failedProbes"],
        "maxFailedProbes": stage["maxFailedProbes"],
        "routes": [_route_summary(route) for route in stage["routes"]],
    }


def _summary_status(stage: StageProgress) -> StageStatus:
    if stage["status"] in (StageStatus.PENDING, StageStatus.RUNNING) and stage["roundsRun"] == 0:
        return StageStatus.SKIPPED
    if stage["status"] == StageStatus.RUNNING:
        return StageStatus.INTERRUPTED
    return StageStatus(stage["status"])


def _route_summary(route: RouteProgress) -> RouteSummary:
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
