"""The report as JUnit XML (--junit), the format CI systems read: a testsuite per stage, a testcase per check and round.

Every check of the suite has a testcase in every round its stage plans, run or not, so a CI system that
tracks tests by name sees the same tests in every validation: a round that did not run is `skipped`, saying why.
A dry run's failed check is `skipped` too, saying it would have failed and why: it gated nothing, so it must not
fail the CI job that reads the file, as it did not fail the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from tollgate.report import EcsStepsRunReport, ProbeRow, RunReport, StageReport, suite_source_line
from tollgate_core.contracts import CheckKind, Stage, StageStatus
from tollgate_core.suite import Suite

_NOT_RUN = {
    StageStatus.SKIPPED: "not run: an earlier stage failed",
    StageStatus.PENDING: "not run yet: the validation is still running",
    StageStatus.RUNNING: "not run yet: the validation is still running",
}
_ENDED_EARLY = "not run: the stage ended before this round (fail fast, or the validation ended)"
_WOULD_HAVE_FAILED = "dry run, would have failed: "


@dataclass(frozen=True)
class _Planned:
    """One testcase: a check in one round, of one validation (ECS linear and canary validate at every step)."""

    validation: int
    round: int
    check: str


def write_junit(path: Path, report: RunReport, suite: Suite) -> None:
    junit_document(report, suite).write(str(path), pretty=True)


def junit_document(report: RunReport, suite: Suite) -> JUnitXml:
    document = JUnitXml("tollgate")
    stages = {stage["name"]: stage for stage in suite.stages}
    validations = len(report["steps"]) if _has_steps(report) else 1
    for stage_report in report["stages"]:
        document.add_testsuite(_testsuite(report, stage_report, stages[stage_report["name"]], validations))
    document.update_statistics()  # type: ignore[no-untyped-call]  # junitparser leaves this one unannotated
    return document


def _has_steps(report: RunReport) -> TypeGuard[EcsStepsRunReport]:
    return "steps" in report


def _testsuite(report: RunReport, stage_report: StageReport, stage: Stage, validations: int) -> TestSuite:
    testsuite = TestSuite(stage_report["name"])
    testsuite.add_property("status", str(stage_report["status"]))
    testsuite.add_property("maxFailedProbes", str(stage["maxFailedProbes"]))
    testsuite.add_property("verdict", str(report["status"]))
    testsuite.add_property("reportedStatus", str(report["reportedStatus"]))
    testsuite.add_property("executionArn", report["executionArn"] or "")
    testsuite.add_property("dryRun", str(report.get("dryRun", False)).lower())
    for name, value in _resolution_properties(report).items():
        testsuite.add_property(name, value)
    rows = _rows_by_plan(stage_report["probes"])
    planned = [
        _Planned(validation, round_, check["name"])
        for validation in range(1, validations + 1)
        for round_ in range(1, stage["rounds"] + 1)
        for check in stage["checks"]
    ]
    dry_run = report.get("dryRun", False)
    cases = [_testcase(plan, rows.pop(plan, None), stage_report, validations, dry_run) for plan in planned]
    cases += [_testcase(plan, row, stage_report, validations, dry_run) for plan, row in rows.items()]  # unplanned
    testsuite.add_testcases(cases)
    return testsuite


def _resolution_properties(report: RunReport) -> dict[str, str]:
    """Which suite judged, and which deployment: only what the report holds (older executions recorded none)."""
    properties = {"suiteSource": suite_source_line(report["suiteSource"])} if "suiteSource" in report else {}
    if "application" in report:
        properties["application"] = report["application"]
    if "deploymentGroup" in report:
        properties["deploymentGroup"] = report["deploymentGroup"]
    if "lambdaTarget" in report:
        properties["targetVersion"] = report["lambdaTarget"]["targetVersion"]
    return properties


def _rows_by_plan(rows: list[ProbeRow]) -> dict[_Planned, ProbeRow]:
    """Each row's place in the plan: a check's n-th row for a round is the n-th validation's."""
    placed: dict[_Planned, ProbeRow] = {}
    seen: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row["route"], row["round"])
        seen[key] = seen.get(key, 0) + 1
        placed[_Planned(seen[key], row["round"], row["route"])] = row
    return placed


def _testcase(
    plan: _Planned, row: ProbeRow | None, stage_report: StageReport, validations: int, dry_run: bool
) -> TestCase:
    where = f"step {plan.validation}, round {plan.round}" if validations > 1 else f"round {plan.round}"
    case = TestCase(f"{plan.check} ({where})", stage_report["name"], _seconds(row))
    if row is None:
        case.result = [Skipped(_NOT_RUN.get(stage_report["status"], _ENDED_EARLY))]
    elif not row["ok"]:
        reason = row["reason"] or "failed"
        result = Skipped(_WOULD_HAVE_FAILED + reason) if dry_run else Failure(reason, str(row["kind"]))
        result.text = _measured(row)
        case.result = [result]
    return case


def _seconds(row: ProbeRow | None) -> float:
    """A probe's latency; a metric reading, or a probe that got no response, took no measured time."""
    if row is None or row["latencyMs"] is None:
        return 0.0
    return round(row["latencyMs"] / 1000, 6)


def _measured(row: ProbeRow) -> str:
    if row["kind"] == CheckKind.METRIC:
        return f"reading: value {row['value']}" if row["value"] is not None else "reading: no value"
    status = row["statusCode"] if row["statusCode"] is not None else "no response"
    return f"attempts: {row['attempts']}, last status: {status}"
