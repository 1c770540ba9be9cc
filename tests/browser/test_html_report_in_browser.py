"""The HTML report in headless Chromium: a passing, a failing and a large validation, read from the rendered DOM."""

from __future__ import annotations

from itertools import pairwise

from selenium.webdriver.chrome.webdriver import WebDriver

from tests.browser.conftest import SCREENSHOTS, ReportFile
from tests.browser.report_page import RenderedReport, open_report, save_screenshot
from tollgate.report import RunReport

# 200 routes x 10 rounds must stay a file one can mail or attach to a CI run.
LARGE_REPORT_MAX_BYTES = 2 * 1024 * 1024


def _checks(report: RunReport) -> list[str]:
    return list(dict.fromkeys(probe["route"] for stage in report["stages"] for probe in stage["probes"]))


def _assert_whole_and_self_contained(page: RenderedReport, report_file: ReportFile) -> None:
    """What every report shows: the verdict, a row per check, a bar per attempt, the graph; nothing fetched."""
    assert page.verdict == report_file.report["status"]
    assert page.verdict_shown
    checks = _checks(report_file.report)
    assert list(page.labels) == checks
    assert all(label.shown for label in page.labels.values())
    assert set(page.table_checks) == set(checks)
    assert len(page.bars) == report_file.attempts
    assert page.timeline.shown and page.graph.shown
    assert not page.history.shown  # the raw history is folded away
    assert page.fetched == []
    assert page.addresses == []


def test_a_passing_report_shows_the_verdict_every_route_and_the_timeline(
    window: WebDriver, passing_report: ReportFile
) -> None:
    # Given a validation that passed, a route of it on its retry
    # When its report is opened in the browser
    page = open_report(window, passing_report.path)
    save_screenshot(window, SCREENSHOTS / "passing-report.png")

    # Then the verdict, each route's row and each attempt's bar are drawn, and the taken path highlighted
    _assert_whole_and_self_contained(page, passing_report)
    assert page.verdict == "Succeeded"
    assert page.bars.count("retried") == 1
    assert page.bars.count("failed") == 0
    assert {"Probe route", "Wait before retry", "Wait before next round", "Report to CodeDeploy"} <= set(page.entered)
    assert "Read metric" not in page.entered
    assert "Wait before retry -> Probe route" in page.taken


def test_a_failing_report_shows_what_failed_the_metric_reading_too(
    window: WebDriver, failing_report: ReportFile
) -> None:
    # Given a validation that failed on a route answering 500 and on its target group's 5xx rate
    # When its report is opened in the browser
    page = open_report(window, failing_report.path)
    save_screenshot(window, SCREENSHOTS / "failing-report.png")

    # Then the verdict is Failed, the route and the metric check have their rows, failed bars among them
    _assert_whole_and_self_contained(page, failing_report)
    assert page.verdict == "Failed"
    assert {"orders", "green-5xx-rate"} <= set(page.labels)
    assert page.bars.count("failed") == 2 + 2  # orders' last attempt and the reading, in each of two rounds
    assert {"Read metric", "Probe route", "Wait before retry"} <= set(page.entered)
    assert "Route or metric? -> Read metric" in page.taken


def test_a_large_report_stays_readable(window: WebDriver, large_report: ReportFile) -> None:
    # Given a validation of 200 routes and a metric check over 10 rounds
    # When its report is opened in the browser
    page = open_report(window, large_report.path)
    save_screenshot(window, SCREENSHOTS / "large-report.png")

    # Then every check has its own row, drawn without overlapping the next, and every attempt its bar
    _assert_whole_and_self_contained(page, large_report)
    assert len(page.labels) == 1 + 200 + 1
    labels = sorted(page.labels.values(), key=lambda label: label.top)
    assert all(upper.top + upper.height <= lower.top + 0.5 for upper, lower in pairwise(labels))
    assert len(page.bars) >= 201 * 10
    # and the file stays a size one can attach to a CI run
    assert large_report.path.stat().st_size < LARGE_REPORT_MAX_BYTES
