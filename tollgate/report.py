"""The run report: what the controller (CodeDeploy or ECS) recorded and what every probe saw (--report-json)."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from tollgate.ecs_run import EcsRunOutcome
from tollgate.engine.ecs import HookRun, Strategy
from tollgate.local_run import RunOutcome
from tollgate_core.contracts import (
    CheckKind,
    Controller,
    EcsHookStatus,
    HookStatus,
    ProbeResult,
    StageStatus,
    TargetSummary,
)
from tollgate_core.reporting import ended_execution_reason
from tollgate_core.suite import Suite


class ProbeRow(TypedDict):
    """A check's final result in one round: a route's last attempt, or a metric check's reading."""

    route: str  # the route's or the metric check's name
    kind: CheckKind
    round: int
    attempts: int
    ok: bool
    statusCode: int | None
    latencyMs: float | None
    value: float | None  # a metric check's measured value
    reason: str | None


class StageReport(TypedDict):
    name: str
    status: StageStatus
    probes: list[ProbeRow]


class RunReport(TypedDict):
    controller: Controller
    dryRun: NotRequired[bool]  # the suite's dryRun: reportedStatus is Succeeded whatever status says
    status: HookStatus  # the workflow's own verdict; for a dry run, the verdict it would have reported
    reportedStatus: HookStatus  # what the local CodeDeploy recorded; for ECS, its hookStatus as Succeeded/Failed
    executionArn: str | None
    durationSeconds: float
    reason: str | None
    target: TargetSummary
    stages: list[StageReport]


class StepReport(TypedDict):
    """One traffic step of a linear or canary deployment, as the hook validated it."""

    productionWeight: float
    hookStatus: EcsHookStatus
    executionArn: str | None
    durationSeconds: float


class EcsRunReport(RunReport):
    hookStatus: EcsHookStatus | None  # the last status ECS received for the stage that decided the deployment
    invocations: int  # how many times ECS invoked the hook, rollback invocations included


class EcsStepsRunReport(EcsRunReport):
    """A linear or canary deployment's report: its traffic steps too."""

    steps: list[StepReport]


def build_report(outcome: RunOutcome, suite: Suite, controller: Controller = Controller.CODEDEPLOY) -> RunReport:
    summary = outcome.summary
    stage_status = {stage["name"]: stage["status"] for stage in summary["stages"]} if summary else {}
    kinds = {(stage["name"], check["name"]): check["kind"] for stage in suite.stages for check in stage["checks"]}
    probes_by_stage: dict[str, list[ProbeRow]] = {}
    for round_results in outcome.rounds:
        for probe in round_results:
            kind = kinds.get((probe["stage"], probe["route"]), CheckKind.ROUTE)
            probes_by_stage.setdefault(probe["stage"], []).append(_probe_row(probe, kind))
    return {
        "controller": controller,
        "dryRun": suite.dry_run,
        "status": _verdict(outcome, suite.dry_run),
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


def build_ecs_report(outcome: EcsRunOutcome, suite: Suite) -> EcsRunReport | EcsStepsRunReport:
    """The report of one ECS deployment: every validation's probes, the decisive one's verdict."""
    deployment = outcome.deployment
    combined = outcome.combined()
    decisive = deployment.decisive_run
    report: EcsRunReport = {
        **build_report(combined, suite, Controller.ECS),
        "hookStatus": decisive.hook_status if decisive else None,
        "invocations": len(deployment.invocations),
    }
    if combined.summary is None:  # no validation ran to a verdict: the reason is the hook's, or ECS's own
        report["reason"] = deployment.reason
    if deployment.strategy is Strategy.BLUE_GREEN:
        return report
    return {**report, "steps": [_step_report(run) for run in outcome.steps]}


def _step_report(run: HookRun) -> StepReport:
    return {
        "productionWeight": run.planned.production_weight,
        "hookStatus": run.hook_status,
        "executionArn": run.execution_arn,
        "durationSeconds": run.duration_seconds,
    }


def _probe_row(probe: ProbeResult, kind: CheckKind) -> ProbeRow:
    return {
        "route": probe["route"],
        "kind": kind,
        "round": probe["round"],
        "attempts": probe["attempts"],
        "ok": probe["ok"],
        "statusCode": probe["statusCode"],
        "latencyMs": probe["latencyMs"],
        "value": probe.get("value"),
        "reason": probe["reason"],
    }


def _verdict(outcome: RunOutcome, dry_run: bool) -> HookStatus:
    """The workflow's verdict; without one, what was reported, except for a dry run, whose Succeeded passed nothing."""
    if outcome.summary:
        return outcome.summary["status"]
    return HookStatus.FAILED if dry_run else outcome.reported_status


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
