"""The browser tests' fixtures: a headless Chromium, the embedded engine, and the reports they open.

`make test-browser` installs Debian's chromium and chromium-driver when they are missing; this machine's
network is closed, so the browser is told not to reach for anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.browser.report_page import CHROMEDRIVER, CHROMIUM, headless_chromium
from tests.browser.synthetic_history import large_validation
from tests.support.alb_metrics import new_target_group, seed_alb_traffic
from tests.support.suites import route, stage, suite_document, target_group_check, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.engine import LocalEngine
from tollgate.html_report import write_html_report
from tollgate.local_run import RunOutcome, attempts_of, run_validation
from tollgate.report import RunReport, build_report
from tollgate_core.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "browser"
WINDOW_WIDTH = 1320
RETRY_AFTER_A_SECOND = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1.0}


@dataclass(frozen=True)
class ReportFile:
    """A report written to disk, with what it was written from."""

    path: Path
    report: RunReport
    attempts: int  # every attempt of every check: one timeline bar each


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make test-browser` installs them")
    driver = headless_chromium(tmp_path_factory.mktemp("chromium-profile"), WINDOW_WIDTH)
    yield driver
    driver.quit()


@pytest.fixture
def window(browser: WebDriver) -> WebDriver:
    """The browser, its window back to its usual size (a full-page screenshot stretches it)."""
    browser.set_window_size(WINDOW_WIDTH, 1000)
    return browser


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    with LocalEngine(log_path=tmp_path_factory.mktemp("engine") / "engine.log") as local_engine:
        yield local_engine


@pytest.fixture(scope="session")
def definition(engine: LocalEngine) -> dict[str, Any]:
    """The workflow as the engine runs it: the ASL with SAM's substitutions made."""
    loaded: dict[str, Any] = json.loads(engine.state_machine.definition)
    return loaded


@pytest.fixture(scope="session")
def passing_report(
    engine: LocalEngine, definition: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> ReportFile:
    """A real validation that passes: a route that passes on its retry, and a soak of three rounds a second apart."""
    routes = {
        "/health": Behaviour(),
        "/orders": Behaviour(body={"count": 2}),
        "/flaky": Behaviour(failures_before_success=1),
    }
    document = suite_document(
        stage("smoke", route("health"), route("flaky", retry=RETRY_AFTER_A_SECOND)),
        stage("soak", route("health"), route("orders", expect={"json": {"$.count": 2}}), rounds=3, intervalSeconds=1),
    )
    with TargetService(routes) as target:
        return _run_and_write(engine, definition, document, target.url, tmp_path_factory, "passing-report")


@pytest.fixture(scope="session")
def failing_report(
    engine: LocalEngine, definition: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> ReportFile:
    """A real validation that fails: a route answering 500 and a target group's 5xx rate over its maximum."""
    target_group = new_target_group()
    seed_alb_traffic(engine, target_group, requests=1000, errors=34)
    error_rate = target_group_check("green-5xx-rate", target_group, errorRatePercent={"max": 1})
    routes = {"/health": Behaviour(), "/flaky": Behaviour(failures_before_success=1), "/orders": Behaviour(status=500)}
    document = suite_document(
        stage("smoke", route("health"), route("flaky", retry=RETRY_AFTER_A_SECOND)),
        stage(
            "soak",
            route("health"),
            route("orders", retry={"maxAttempts": 2, "intervalSeconds": 0}),
            metrics=[error_rate],
            rounds=2,
            intervalSeconds=1,
            maxFailedProbes=3,
        ),
    )
    with TargetService(routes) as target:
        return _run_and_write(engine, definition, document, target.url, tmp_path_factory, "failing-report")


@pytest.fixture(scope="session")
def large_report(definition: dict[str, Any]) -> ReportFile:
    """200 routes x 10 rounds and a metric check: a history made up event by event, as no test waits for one."""
    validation = large_validation(routes=200, rounds=10)
    path = SCREENSHOTS / "large-report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_html_report(path, validation.report, validation.history, definition, suite_source="200 routes x 10 rounds")
    attempts = sum(probe["attempts"] for stage in validation.report["stages"] for probe in stage["probes"])
    return ReportFile(path, validation.report, attempts)


def _run_and_write(
    engine: LocalEngine,
    definition: dict[str, Any],
    document: dict[str, Any],
    target_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
) -> ReportFile:
    suite_path = write_suite(tmp_path_factory.mktemp(name), document)
    outcome: RunOutcome = run_validation(engine, suite_path, target_url, timeout_seconds=90)
    report = build_report(outcome, load_suite(suite_path).with_base_url(target_url))
    path = SCREENSHOTS / f"{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_html_report(path, report, outcome.history, definition, suite_source=str(suite_path))
    return ReportFile(path, report, len(attempts_of(outcome)))
