"""The HTML report of a validation: one self-contained file with its verdict, workflow, timeline and probes."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tollgate.report import ProbeRow, RunReport, StageReport, resolution_lines, started_deployments
from tollgate.timeline import Attempt, CheckRow, Timeline, Wait, checks_in_order, timeline_of
from tollgate.workflow_graph import workflow_graph
from tollgate_core.contracts import CheckKind, HookStatus

# A stage with more probes than this shows its failed ones, and folds the whole table away.
FOLD_TABLE_OVER_ROWS = 100
# The raw history keeps its first and last events, each string cut short: a 200-route soak has tens of thousands.
RAW_HISTORY_EVENTS = 400
RAW_STRING_CHARS = 400

_LABEL_WIDTH = 210.0
_PLOT_WIDTH = 960.0
_AXIS_HEIGHT = 46.0
_MIN_BAR_WIDTH = 2.0
_LABEL_CHARS = 28
_CHAR_WIDTH = 8.5  # of a bold 12 px label, generously: labels must not run into each other
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_MAX_TICKS = 10
_MAX_ROUND_LABELS = 40
_DEPLOYMENT_LABELS = {
    "deploymentId": "deployment",
    "lifecycleEventHookExecutionId": "hook execution",
    "lifecycleEvent": "lifecycle event",
    "executionId": "ECS deployment",
    "lifecycleStage": "lifecycle stage",
    "serviceArn": "service",
    "targetServiceRevisionArn": "target revision",
    "productionWeight": "production traffic (%)",
}
# Deployment fields that are facts of their own (the report carries them): not repeated from the execution's input.
_OWN_FACT_FIELDS = {"controller", "suiteSource", "application", "deploymentGroup", "targetListener", "lambdaTarget"}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    href: str | None = None  # the console link: the one address the report leads to


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    result: str  # passed, retried, failed, or pending when the history ends first
    title: str


@dataclass(frozen=True)
class Band:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    title: str
    label_x: float = 0.0  # right of the line, or further right when the label before it would overlap


@dataclass(frozen=True)
class RowLabel:
    y: float
    check: str
    text: str
    title: str
    kind: str
    failed: bool


@dataclass(frozen=True)
class TimelineChart:
    width: float
    height: float
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    row_height: float
    rows: list[RowLabel]
    bars: list[Bar]
    retry_waits: list[Band]
    round_waits: list[Band]
    ticks: list[Mark]
    stages: list[Mark]
    rounds: list[Mark]


@dataclass(frozen=True)
class StageTable:
    name: str
    status: str
    probes: list[ProbeRow]
    failed: list[ProbeRow]
    checks: int
    rounds: int
    folded: bool  # too many rows to show open: the failed ones are shown apart


@dataclass(frozen=True)
class RawHistory:
    lines: list[Markup]
    total: int
    omitted: int  # events left out between the first and the last ones shown
    cut_at: int  # index in `lines` where they were left out


def render_html_report(
    report: RunReport,
    history: Sequence[Mapping[str, Any]],
    definition: Mapping[str, Any],
    *,
    suite_source: str | None = None,
    console_url: str | None = None,
) -> str:
    """The report as one HTML document that needs nothing but itself: no network, no scripts from elsewhere.

    `suite_source` names the suite when the report does not: executions started before the hooks recorded it.
    """
    timeline = timeline_of(history)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            passed=report["status"] == HookStatus.SUCCEEDED,
            facts=_facts(report, history, timeline, suite_source, console_url),
            graph=workflow_graph(definition, history),
            timeline=_timeline_chart(timeline, report),
            stages=[_stage_table(stage) for stage in report["stages"]],
            history=_raw_history(history),
        )
    )


def write_html_report(
    path: Path,
    report: RunReport,
    history: Sequence[Mapping[str, Any]],
    definition: Mapping[str, Any],
    *,
    suite_source: str | None = None,
    console_url: str | None = None,
) -> None:
    document = render_html_report(report, history, definition, suite_source=suite_source, console_url=console_url)
    path.write_text(document, encoding="utf-8")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("tollgate", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["seconds"] = _seconds
    environment.filters["number"] = _number
    return environment


# --- the facts at the top -------------------------------------------------------------------------------------


def _facts(
    report: RunReport,
    history: Sequence[Mapping[str, Any]],
    timeline: Timeline,
    suite_source: str | None,
    console_url: str | None,
) -> list[Fact]:
    """What was validated, where, and how: the suite and the target first."""
    resolved = dict(resolution_lines(report))
    suite = resolved.pop("suite", suite_source)
    target = resolved.pop("target", report["target"]["baseUrl"])
    facts = [Fact("suite", suite)] if suite else []
    facts.append(Fact("target", target + ("" if report["target"]["verifyTls"] else " (TLS not verified)")))
    facts.append(Fact("controller", str(report["controller"])))
    facts += [Fact(label, line) for label, line in resolved.items()]
    deployments = started_deployments(history)
    if deployments:
        facts += [
            Fact(_DEPLOYMENT_LABELS.get(key, key), str(value))
            for key, value in deployments[0].items()
            if key not in _OWN_FACT_FIELDS
        ]
    if len(deployments) > 1:
        facts.append(Fact("executions", f"{len(deployments)} (one per traffic step)"))
    if report["executionArn"]:
        facts.append(Fact("execution", report["executionArn"], console_url))
    if timeline.started_at is not None:
        facts.append(Fact("started", timeline.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()))
    facts.append(Fact("duration", _seconds(report["durationSeconds"])))
    probes = [probe for stage in report["stages"] for probe in stage["probes"]]
    failed = sum(1 for probe in probes if not probe["ok"])
    facts.append(Fact("probes", f"{len(probes)} ({failed} failed)"))
    return facts


# --- the timeline ---------------------------------------------------------------------------------------------


def _timeline_chart(timeline: Timeline, report: RunReport) -> TimelineChart:
    rows = checks_in_order(timeline, (probe["route"] for stage in report["stages"] for probe in stage["probes"]))
    row_height = 18.0 if len(rows) <= 50 else 12.0
    plot_height = row_height * len(rows)
    scale = _Scale(timeline.duration)
    labels, bars, retry_waits = [], [], []
    for index, row in enumerate(rows):
        top = _AXIS_HEIGHT + index * row_height
        labels.append(_row_label(row, top, row_height))
        bars += [_bar(row, attempt, top, row_height, scale) for attempt in row.attempts]
        retry_waits += [_retry_wait(row, wait, top, row_height, scale) for wait in row.retry_waits]
    round_waits = [
        scale.band(
            wait, _AXIS_HEIGHT, plot_height, f"waiting {wait.seconds} s before round {wait.round} of {wait.stage}"
        )
        for wait in timeline.round_waits
    ]
    labelled = len(timeline.rounds) <= _MAX_ROUND_LABELS
    return TimelineChart(
        width=_LABEL_WIDTH + _PLOT_WIDTH + 20,
        height=_AXIS_HEIGHT + plot_height + 8,
        plot_left=_LABEL_WIDTH,
        plot_top=_AXIS_HEIGHT,
        plot_width=_PLOT_WIDTH,
        plot_height=plot_height,
        row_height=row_height,
        rows=labels,
        bars=bars,
        retry_waits=retry_waits,
        round_waits=round_waits,
        ticks=[Mark(scale.x(at), _clock(at), "") for at in _tick_times(timeline.duration)],
        stages=_apart(
            [Mark(scale.x(start.at), start.stage, f"stage {start.stage} starts") for start in timeline.stage_starts()]
        ),
        rounds=_apart(
            [
                Mark(
                    scale.x(start.at),
                    f"r{start.round}" if labelled else "",
                    f"{start.stage} round {start.round} starts",
                )
                for start in timeline.rounds
                if start.round > 1
            ]
        ),
    )


@dataclass(frozen=True)
class _Scale:
    """Seconds from the timeline's start to x in the drawing."""

    duration: float

    def x(self, seconds: float) -> float:
        return round(_LABEL_WIDTH + seconds * _PLOT_WIDTH / max(self.duration, 0.001), 1)

    def width(self, started: float, ended: float | None, least: float) -> float:
        """From start to end, or to the end of the timeline for what the history does not see end."""
        end = ended if ended is not None else self.duration
        return round(max(self.x(end) - self.x(started), least), 1)

    def band(self, wait: Wait, top: float, height: float, title: str) -> Band:
        return Band(self.x(wait.started), top, self.width(wait.started, wait.ended, 1.0), height, title)


def _bar(row: CheckRow, attempt: Attempt, top: float, row_height: float, scale: _Scale) -> Bar:
    width = scale.width(attempt.started, attempt.ended, _MIN_BAR_WIDTH)
    bar_top, bar_height = round(top + row_height * 0.15, 1), round(row_height * 0.7, 1)
    return Bar(scale.x(attempt.started), bar_top, width, bar_height, _result(attempt), _title(row, attempt))


def _retry_wait(row: CheckRow, wait: Wait, top: float, row_height: float, scale: _Scale) -> Band:
    waited = f"{wait.seconds} s" if wait.seconds is not None else "a while"
    title = f"{row.check} · {wait.stage} round {wait.round}: waiting {waited} before retrying"
    return scale.band(wait, round(top + row_height * 0.3, 1), round(row_height * 0.4, 1), title)


def _apart(marks: list[Mark]) -> list[Mark]:
    """The marks with their labels moved right where they would overlap the one before."""
    spread, free_from = [], 0.0
    for mark in marks:
        label_x = max(mark.x + 4, free_from)
        spread.append(Mark(mark.x, mark.label, mark.title, label_x))
        free_from = label_x + len(mark.label) * _CHAR_WIDTH + 8
    return spread


def _row_label(row: CheckRow, top: float, height: float) -> RowLabel:
    text = row.check if len(row.check) <= _LABEL_CHARS else row.check[: _LABEL_CHARS - 1] + "…"
    failed = any(_result(attempt) == "failed" for attempt in row.attempts)
    attempts = len(row.attempts)
    title = f"{row.check} ({row.kind}): {attempts} attempt{'s' if attempts != 1 else ''}"
    return RowLabel(top + height / 2, row.check, text, title, str(row.kind), failed)


def _result(attempt: Attempt) -> str:
    result = attempt.result
    if result is None:
        return "pending"
    if result["ok"]:
        return "passed"
    return "failed" if result.get("final", True) else "retried"


def _title(row: CheckRow, attempt: Attempt) -> str:
    where = f"{row.check} · {attempt.stage} round {attempt.round}"
    result = attempt.result
    if result is None:
        return f"{where}: no result in the history"
    verdict = "passed" if result["ok"] else "failed"
    if row.kind == CheckKind.METRIC:
        measured = f", value {_number(result.get('value'))}" if result.get("value") is not None else ""
        text = f"{where} · reading: {verdict}{measured}"
    else:
        status = result["statusCode"] if result["statusCode"] is not None else "no response"
        latency = f" in {_number(result['latencyMs'])} ms" if result["latencyMs"] is not None else ""
        text = f"{where} · attempt {result['attempts']}: {verdict}, {status}{latency}"
    if result["reason"]:
        text += f": {result['reason']}"
    if attempt.ended is not None:
        text += f" (task {_seconds(attempt.ended - attempt.started)})"
    return text


def _tick_times(duration: float) -> list[float]:
    step = next((step for step in _TICK_STEPS if duration / step <= _MAX_TICKS), _TICK_STEPS[-1])
    count = int(duration / step + 1e-9)
    return [round(index * step, 3) for index in range(count + 1)]


def _clock(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


# --- the per-stage tables and the raw history -----------------------------------------------------------------


def _stage_table(stage: StageReport) -> StageTable:
    probes = stage["probes"]
    return StageTable(
        name=stage["name"],
        status=str(stage["status"]),
        probes=probes,
        failed=[probe for probe in probes if not probe["ok"]],
        checks=len({probe["route"] for probe in probes}),
        rounds=max((probe["round"] for probe in probes), default=0),
        folded=len(probes) > FOLD_TABLE_OVER_ROWS,
    )


def _raw_history(history: Sequence[Mapping[str, Any]]) -> RawHistory:
    total = len(history)
    if total <= RAW_HISTORY_EVENTS:
        shown, cut = list(history), total
    else:
        cut = RAW_HISTORY_EVENTS // 2
        shown = [*history[:cut], *history[total - (RAW_HISTORY_EVENTS - cut) :]]
    lines = [_preformatted(json.dumps(_shortened(event), default=_json_default, ensure_ascii=False)) for event in shown]
    return RawHistory(lines, total, total - len(shown), cut)


def _preformatted(text: str) -> Markup:
    """Text for a <pre>: its quotes need no escaping there, and JSON is full of them (a third of the history's size)."""
    return Markup(html.escape(text, quote=False))  # noqa: S704 - escaped right here


def _shortened(value: Any) -> Any:
    if isinstance(value, str) and len(value) > RAW_STRING_CHARS:
        return f"{value[:RAW_STRING_CHARS]}… ({len(value) - RAW_STRING_CHARS} more characters)"
    if isinstance(value, Mapping):
        return {key: _shortened(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shortened(item) for item in value]
    return value


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    minutes, seconds = divmod(value, 60)
    return f"{minutes:.0f} min {seconds:02.0f} s"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
