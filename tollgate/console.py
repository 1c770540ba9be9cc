"""What `tollgate run` shows a person: live progress while probing, then a table and the verdict."""

from __future__ import annotations

from typing import TypeGuard

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tollgate.ecs_run import EcsProgress
from tollgate.engine.ecs import HookInvocation
from tollgate.history import AttemptFinished, StageStarted, WaitingForRound
from tollgate.report import EcsRunReport, EcsStepsRunReport, RunReport, StepReport, resolution_lines
from tollgate_core.contracts import CheckKind, Controller, EcsHookStatus, HookStatus, ProbeResult

_HOOK_STATUS_STYLE = {EcsHookStatus.SUCCEEDED: "green", EcsHookStatus.FAILED: "red", EcsHookStatus.IN_PROGRESS: "dim"}


class ProgressPrinter:
    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: EcsProgress) -> None:
        if isinstance(event, HookInvocation):
            self.console.print(_invocation_line(event), highlight=False)
        elif isinstance(event, StageStarted):
            self.console.print(f"[bold]stage {event.stage}[/bold]")
        elif isinstance(event, AttemptFinished):
            self.console.print(_attempt_line(event.result), highlight=False)
        elif isinstance(event, WaitingForRound):
            self.console.print(f"  [dim]waiting {event.seconds} s before round {event.round}[/dim]")


def _attempt_line(result: ProbeResult) -> str:
    if "value" in result:  # a metric check's reading: its reason says what was measured
        line = f"  round {result['round']}  {result['route']:<20} metric  "
        verdict = "[green]ok[/green]" if result["ok"] else "[red]failed[/red]"
        reason = result.get("reason")
        return line + verdict + (f": {escape(reason)}" if reason else "")
    status = result.get("statusCode") or "---"
    latency = f"{result['latencyMs']:.0f} ms" if result.get("latencyMs") is not None else "-"
    line = f"  round {result['round']}  {result['route']:<20} attempt {result['attempts']}  {status}  {latency:>7}  "
    if result["ok"]:
        return line + "[green]ok[/green]"
    line += f"[red]failed[/red]: {result.get('reason')}"
    if not result.get("final"):
        line += f" [dim](retry in {result.get('retryInSeconds', 0)} s)[/dim]"
    return line


def _invocation_line(call: HookInvocation) -> str:
    planned = call.planned
    where = planned.stage.value
    if planned.rollback:
        where += " rollback"
    elif planned.step is not None:
        where += f" step {planned.step}"
    status = f"[{_HOOK_STATUS_STYLE[call.hook_status]}]{call.hook_status}[/]"
    line = f"ECS invoked the hook: {where} ({planned.production_weight:g} %): {status}"
    if call.hook_status is EcsHookStatus.IN_PROGRESS:
        return line + f"[dim], again in {call.callback_delay_seconds:g} s[/dim]"
    return line + (f": {escape(call.reason)}" if call.reason else "")


def _is_ecs(report: RunReport) -> TypeGuard[EcsRunReport]:
    return report["controller"] == Controller.ECS


def _has_steps(report: RunReport) -> TypeGuard[EcsStepsRunReport]:
    return "steps" in report


def print_report(console: Console, report: RunReport) -> None:
    title = "Validation (dry run: its verdict gated nothing)" if report.get("dryRun") else "Validation"
    table = Table(title=title, title_justify="left")
    for column in ("stage", "check", "round", "attempts", "result", "status", "latency", "reason"):
        table.add_column(column, justify="right" if column in ("round", "attempts", "status", "latency") else "left")
    for stage in report["stages"]:
        if not stage["probes"]:
            table.add_row(stage["name"], "-", "-", "-", f"[dim]{stage['status']}[/dim]", "", "", "")
        for probe in stage["probes"]:
            table.add_row(
                stage["name"],
                probe["route"],
                str(probe["round"]),
                str(probe["attempts"]),
                "[green]passed[/green]" if probe["ok"] else "[red]failed[/red]",
                "metric" if probe["kind"] == CheckKind.METRIC else str(probe["statusCode"] or "-"),
                f"{probe['latencyMs']:.0f} ms" if probe["latencyMs"] is not None else "-",
                escape(probe["reason"] or ""),
            )
    console.print(table)
    if _has_steps(report):
        _print_steps(console, report["steps"])
    print_verdict(console, report)


def _print_steps(console: Console, steps: list[StepReport]) -> None:
    table = Table(title="Traffic steps", title_justify="left")
    for column in ("step", "production", "hook status", "duration"):
        table.add_column(column, justify="left" if column == "hook status" else "right")
    for number, step in enumerate(steps, start=1):
        style = _HOOK_STATUS_STYLE[step["hookStatus"]]
        table.add_row(
            str(number),
            f"{step['productionWeight']:g} %",
            f"[{style}]{step['hookStatus']}[/]",
            f"{step['durationSeconds']:.1f} s",
        )
    console.print(table)


def print_verdict(console: Console, report: RunReport) -> None:
    if report.get("dryRun"):
        _print_dry_run_verdict(console, report)
    else:
        colour = "green" if report["reportedStatus"] == HookStatus.SUCCEEDED else "red"
        console.print(
            f"{report['controller']} recorded [bold {colour}]{report['reportedStatus']}[/bold {colour}] "
            f"after {report['durationSeconds']:.1f} s",
            highlight=False,
        )
    if _is_ecs(report):
        invoked = f"; ECS invoked it {report['invocations']} times" if report["invocations"] else ""
        console.print(f"the hook answered {report['hookStatus']}{invoked}")
    if report["reason"]:
        console.print(f"reason: {report['reason']}", highlight=False)
    _print_resolution(console, report)
    if not report["target"]["verifyTls"]:
        console.print("[yellow]TLS certificates were not verified (verifyTls: false)[/yellow]")


def _print_resolution(console: Console, report: RunReport) -> None:
    """Which suite judged, and what the deployment resolved to, one aligned line each: only what the report holds."""
    lines = resolution_lines(report)
    width = max((len(label) for label, _ in lines), default=0) + 2
    for label, line in lines:
        console.print(f"{label:<{width}}{escape(line)}", highlight=False, soft_wrap=True)


def _print_dry_run_verdict(console: Console, report: RunReport) -> None:
    """The would-be verdict first and loudest: a dry run's Succeeded must never read like a pass."""
    recorded = f"{report['controller']} recorded {report['reportedStatus']} after {report['durationSeconds']:.1f} s"
    if report["reportedStatus"] != HookStatus.SUCCEEDED:  # the validation could not even run
        console.print(f"[bold yellow]DRY RUN[/bold yellow]: [red]{recorded}[/red]", highlight=False)
        return
    if report["status"] == HookStatus.SUCCEEDED:
        console.print("[bold yellow]DRY RUN[/bold yellow]: the validation passed", highlight=False)
        console.print(f"[yellow]{recorded}; with dryRun: true its verdict gated nothing[/yellow]", highlight=False)
        return
    console.print("[bold yellow]DRY RUN[/bold yellow]: the validation would have [bold red]FAILED[/bold red]")
    console.print(
        f"[yellow]{recorded} only because the suite sets dryRun: true: this deployment was not gated[/yellow]",
        highlight=False,
    )
