"""The run report: what CodeDeploy recorded and what every probe saw (the --report-json contract)."""

from __future__ import annotations

from typing import TypedDict

from tollgate.local_run import RunOutcome
from tollgate_core.contracts import HookStatus, ProbeResult, StageStatus, TargetSummary
from tollgate_core.reporting import ended_execution_reason
from tollgate_core.suite import Suite


class ProbeRow(TypedDict):
    """A probe's final result in one round: its last attempt."""

    route: str
    round: int
    attempts: int
    ok: bool
    statusCode: int | None
    latencyMs: float | None
    reason: str | None


class StageReport(TypedDict):
    name: str
    status: StageStatus
    probes: list[ProbeRow]


class RunReport(TypedDict):
    status: HookStatus  # the workflow's own verdict
    reportedStatus: HookStatus  # what the local CodeDeploy recorded
    executionArn: str | None
    durationSeconds: float
    reason: str | None
    target: TargetSummary
    stages: list[StageReport]


def build_report(outcome: RunOutcome, suite: Suite) -> RunReport:
    summary = outcome.summary
    stage_status = {stage["name"]: stage["status"] for stage in summary["stages"]} if summary else {}
    probes_by_stage: dict[str, list[ProbeRow]] = {}
    for round_results in outcome.rounds:
        for probe in round_results:
            probes_by_stage.setdefault(probe["stage"], []).append(_probe_row(probe))
    return {
        "status": summary["status"] if summary else outcome.reported_status,
        "reportedStatus": outcome.reported_status,
        "executionArn": outcome.execution_arn,
        "durationSeconds": outcome.duration_seconds,
        "reason": _reason(outcome),
        "target": {"baseUrl": suite.target["baseUrl"], "verifyTls": suite.target["verifyTls"]},
        "stages": [
            {
                "name": stage["name"],
                "status": stage_status.get(stage["name"], StageStatus.SKIPPED),
                "probes": probes_by_stage.get(stage["name"], []),
            }
            for stage in suite.stages
        ],
    }


def _probe_row(probe: ProbeResult) -> ProbeRow:
    return {
        "route": probe["route"],
        "round": probe["round"],
        "attempts": probe["attempts"],
        "ok": probe["ok"],
        "statusCode": probe["statusCode"],
        "latencyMs": probe["latencyMs"],
        "reason": probe["reason"],
    }


def _reason(outcome: RunOutcome) -> str | None:
    if outcome.summary:
        return outcome.summary["reason"]
    if outcome.hook_error:
        return f"the hook failed: {outcome.hook_error.get('errorMessage')}"
    if outcome.reported_status == HookStatus.PENDING:
        return "no status reached CodeDeploy before the time budget ran out"
    if outcome.execution_status and outcome.execution_status != "SUCCEEDED":
        return ended_execution_reason(outcome.execution_status, outcome.execution_failure)
    return None
