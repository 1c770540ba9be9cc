"""The run report: what CodeDeploy recorded and what every probe saw (the --report-json contract)."""

from __future__ import annotations

from typing import Any

from tollgate.local_run import RunOutcome
from tollgate_core.suite import Suite

_PROBE_FIELDS = ("route", "round", "attempts", "ok", "statusCode", "latencyMs", "reason")


def build_report(outcome: RunOutcome, suite: Suite) -> dict[str, Any]:
    summary = outcome.summary or {}
    stage_status = {stage["name"]: stage["status"] for stage in summary.get("stages", [])}
    probes_by_stage: dict[str, list[dict[str, Any]]] = {}
    for round_results in outcome.rounds:
        for probe in round_results:
            probes_by_stage.setdefault(probe["stage"], []).append({key: probe.get(key) for key in _PROBE_FIELDS})
    return {
        "status": summary.get("status") or outcome.reported_status,
        "reportedStatus": outcome.reported_status,
        "executionArn": outcome.execution_arn,
        "durationSeconds": outcome.duration_seconds,
        "reason": _reason(outcome, summary),
        "target": {"baseUrl": suite.target["baseUrl"], "verifyTls": suite.target["verifyTls"]},
        "stages": [
            {
                "name": stage["name"],
                "status": stage_status.get(stage["name"], "skipped"),
                "probes": probes_by_stage.get(stage["name"], []),
            }
            for stage in suite.stages
        ],
    }


def _reason(outcome: RunOutcome, summary: dict[str, Any]) -> str | None:
    if summary:
        reason: str | None = summary.get("reason")
        return reason
    if outcome.hook_error:
        return f"the hook failed: {outcome.hook_error.get('errorMessage')}"
    if outcome.reported_status == "Pending":
        return "no status reached CodeDeploy before the time budget ran out"
    if outcome.execution_status and outcome.execution_status != "SUCCEEDED":
        return f"validation execution ended {outcome.execution_status}"
    return None
