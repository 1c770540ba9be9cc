"""The run report (--report-json): what CodeDeploy or ECS recorded, what every probe saw, which suite judged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, cast

from tollgate.ecs_run import EcsRunOutcome
from tollgate.engine.ecs import HookRun, Strategy
from tollgate.local_run import RunOutcome
from tollgate_core.contracts import (
    CheckKind,
    Controller,
    Deployment,
    EcsDeployment,
    EcsHookStatus,
    ExecutionOutput,
    HookStatus,
    LambdaTarget,
    ProbeResult,
    StageStatus,
    SuiteSource,
    SuiteSourceKind,
    TargetListener,
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


class DeploymentResolution(TypedDict, total=False):
    """Which suite judged the deployment, and what the hook resolved from the deployment, as it recorded them.

    Copied from the execution's deployment document. Reports of executions started before the hooks recorded them
    have none of these; an ECS deployment has only `suiteSource`; the others are there when the hook needed them
    (a catalog suite, a `target.fromDeployment`, an invoke route without a `function`).
    """

    suiteSource: SuiteSource  # S3 (with its versionId or ETag), a file, or the ECS hook's hookDetails.suite
    application: str  # the CodeDeploy application
    deploymentGroup: str
    targetListener: TargetListener  # the listener `target.fromDeployment` resolved to, and the URL probed
    lambdaTarget: LambdaTarget  # a Lambda deployment's function version, as its AppSpec says


_RESOLUTION_FIELDS = ("suiteSource", "application", "deploymentGroup", "targetListener", "lambdaTarget")


class RunReport(DeploymentResolution):
    """A validation's report: the verdict, what the controller recorded, and every check's result per stage."""

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


def _target(summary: ExecutionOutput | None, suite: Suite) -> TargetSummary:
    """The execution's own target when it has one: the hook may have resolved it from the deployment."""
    if summary is not None and summary["target"] is not None:
        return summary["target"]
    return {"baseUrl": suite.target["baseUrl"], "verifyTls": suite.target["verifyTls"]}


def build_report(
    outcome: RunOutcome,
    suite: Suite,
    controller: Controller = Controller.CODEDEPLOY,
    deployment: Deployment | EcsDeployment | None = None,
) -> RunReport:
    """The report of one validation; `deployment` as the execution's input has it, else as the outcome tells it."""
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
        "target": _target(summary, suite),
        **deployment_resolution(deployment or _deployment_of(outcome)),
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


def deployment_resolution(deployment: Mapping[str, Any] | None) -> DeploymentResolution:
    """The suite's source and what the hook resolved, from a deployment document: none of it from an older one."""
    if deployment is None:
        return {}
    return cast(DeploymentResolution, {key: deployment[key] for key in _RESOLUTION_FIELDS if key in deployment})


def _deployment_of(outcome: RunOutcome) -> Mapping[str, Any] | None:
    """The validated deployment: the reporter's summary carries it, else the input the execution started with."""
    summary = cast(Mapping[str, Any], outcome.summary or {})
    deployment = summary.get("deployment")
    if isinstance(deployment, dict):
        return deployment
    started = started_deployments(outcome.history)
    return started[0] if started else None


def started_deployments(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The deployment each execution of the history validated, as its input carries it."""
    deployments = []
    for event in history:
        if event["type"] == "ExecutionStarted":
            text = event.get("executionStartedEventDetails", {}).get("input") or "{}"
            try:
                deployment = json.loads(text).get("deployment")
            except ValueError:  # input Step Functions truncated
                continue
            if isinstance(deployment, dict):
                deployments.append(deployment)
    return deployments


def suite_source_line(source: SuiteSource) -> str:
    """Where the suite came from, as one line a person reads.

    `s3://bucket/key (version 3Lg1...)` or `(ETag 9b2c...)`, `file suites/x.yaml`, `hookDetails.suite (inline)`.
    """
    location = source["location"]
    if source["kind"] == SuiteSourceKind.FILE:
        return f"file {location}"
    if source["kind"] == SuiteSourceKind.INLINE:
        return f"{location} (inline)"
    exactly = [f"version {source['versionId']}"] if source.get("versionId") else []
    exactly += [f"ETag {source['etag']}"] if source.get("etag") else []
    return f"{location} ({', '.join(exactly)})" if exactly else location


def resolution_lines(report: DeploymentResolution) -> list[tuple[str, str]]:
    """What the report knows of the suite's source and the deployment, as (label, line): only what it holds."""
    lines = [("suite", suite_source_line(report["suiteSource"]))] if "suiteSource" in report else []
    group = _deployment_group_line(report)
    if group:
        lines.append(group)
    if "targetListener" in report:
        lines.append(("target", _target_listener_line(report["targetListener"])))
    if "lambdaTarget" in report:
        lines.append(("function", _lambda_target_line(report["lambdaTarget"])))
    return lines


def _target_listener_line(listener: TargetListener) -> str:
    """The URL probed and the listener it was resolved from: `http://... (testListener arn:...)`."""
    return f"{listener['url']} ({listener['role']} {listener['listenerArn']})"


def _lambda_target_line(target: LambdaTarget) -> str:
    """The function version deployed: `orders:7 (alias live, from 6)`."""
    return f"{target['function']}:{target['targetVersion']} (alias {target['alias']}, from {target['currentVersion']})"


def _deployment_group_line(report: DeploymentResolution) -> tuple[str, str] | None:
    application, group = report.get("application"), report.get("deploymentGroup")
    if application and group:
        return "deployment group", f"{application}/{group}"
    if application:
        return "application", application
    return ("deployment group", group) if group else None


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
