"""What `tollgate run` shows a person: live progress while probing, then a table and the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tollgate.history import AttemptFinished, ProgressEvent, StageStarted, WaitingForRound
from tollgate.report import RunReport
from tollgate_core.contracts import HookStatus, ProbeResult


class ProgressPrinter:
    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, StageStarted):
            self.console.print(f"[bold]stage {event.stage}[/bold]")
        elif isinstance(event, AttemptFinished):
            self.console.print(_attempt_line(event.result), highlight=False)
        elif isinstance(event, WaitingForRound):
            self.console.print(f"  [dim]waiting {event.seconds} s before round {event.round}[/dim]")


def _attempt_line(result: ProbeResult) -> str:
    status = result.get("statusCode") or "---"
    latency = f"{result['latencyMs']:.0f} ms" if result.get("latencyMs") is not None else "-"
    line = f"  round {result['round']}  {result['route']:<20} attempt {result['attempts']}  {status}  {latency:>7}  "
    if result["ok"]:
        return line + "[green]ok[/green]"
    line += f"[red]failed[/red]: {result.get('reason')}"
    if not result.get("final"):
        line += f" [dim](retry in {result.get('retryInSeconds', 0)} s)[/dim]"
    return line


def print_report(console: Console, report: RunReport) -> None:
    table = Table(title="Validation", title_justify="left")
    for column in ("stage", "route", "round", "attempts", "result", "status", "latency", "reason"):
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
                str(probe["statusCode"] or "-"),
                f"{probe['latencyMs']:.0f} ms" if probe["latencyMs"] is not None else "-",
                probe["reason"] or "",
            )
    console.print(table)
    print_verdict(console, report)


def print_verdict(console: Console, report: RunReport) -> None:
    colour = "green" if report["reportedStatus"] == HookStatus.SUCCEEDED else "red"
    console.print(
        f"CodeDeploy recorded [bold {colour}]{report['reportedStatus']}[/bold {colour}] "
        f"after {report['durationSeconds']:.1f} s",
        highlight=False,
    )
    if report["reason"]:
        console.print(f"reason: {report['reason']}", highlight=False)
    if not report["target"]["verifyTls"]:
        console.print("[yellow]TLS certificates were not verified (verifyTls: false)[/yellow]")
