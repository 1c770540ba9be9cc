"""An HTML report opened in a real browser, read from the DOM Chromium rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.webdriver import Chrome, ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium and chromium-driver packages
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Everything the report's checks need in one call: a browser round trip per element would take minutes at 2000 bars.
_READ_PAGE = """
const box = (element) => {
  const rect = element.getBoundingClientRect();
  const visible = element.checkVisibility({visibilityProperty: true, opacityProperty: true});
  return {width: rect.width, height: rect.height, top: rect.top + window.scrollY,
          shown: visible && rect.width > 0 && rect.height > 0};
};
const all = (selector) => Array.from(document.querySelectorAll(selector));
return {
  labels: all('svg.timeline text.row-label').map((e) => ({check: e.dataset.check, ...box(e)})),
  bars: all('svg.timeline rect.bar').map((e) => e.getAttribute('class').split(' ')[1]),
  tableChecks: all('#stages table.probes tbody tr td:first-child').map((e) => e.textContent),
  entered: all('svg.graph g.state.entered').map((e) => e.dataset.state),
  taken: all('svg.graph g.transition.taken').map((e) => e.dataset.from + ' -> ' + e.dataset.to),
  timeline: box(document.querySelector('svg.timeline')),
  graph: box(document.querySelector('svg.graph')),
  history: box(document.querySelector('#history pre')),
  fetched: performance.getEntriesByType('resource').map((entry) => entry.name),
  addresses: all('[src], [href]').map((e) => e.getAttribute('src') || e.getAttribute('href')),
};
"""


@dataclass(frozen=True)
class Box:
    width: float
    height: float
    top: float
    shown: bool


@dataclass(frozen=True)
class RenderedReport:
    """What the browser drew of a report."""

    verdict: str
    verdict_shown: bool
    labels: dict[str, Box]  # timeline row labels, by check
    bars: list[str]  # each attempt's result
    table_checks: list[str]
    entered: list[str]
    taken: list[str]
    timeline: Box
    graph: Box
    history: Box
    fetched: list[str]
    addresses: list[str]


def headless_chromium(profile: Path, width: int = 1320) -> WebDriver:
    """Chromium without a screen, a fresh profile, and nothing it would fetch by itself: the network is closed."""
    options = ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={width},1000",
    ):
        options.add_argument(argument)
    return Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def open_report(driver: WebDriver, path: Path) -> RenderedReport:
    driver.get(path.resolve().as_uri())
    status = driver.find_element(By.CSS_SELECTOR, "#verdict .status")
    page: dict[str, Any] = driver.execute_script(_READ_PAGE)
    return RenderedReport(
        verdict=status.text,
        verdict_shown=status.is_displayed(),
        labels={label["check"]: _box(label) for label in page["labels"]},
        bars=page["bars"],
        table_checks=page["tableChecks"],
        entered=page["entered"],
        taken=page["taken"],
        timeline=_box(page["timeline"]),
        graph=_box(page["graph"]),
        history=_box(page["history"]),
        fetched=page["fetched"],
        addresses=page["addresses"],
    )


def save_screenshot(driver: WebDriver, path: Path) -> None:
    """The whole page, not only the window: the window is made as tall as the page first."""
    width = driver.get_window_size()["width"]
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.get_screenshot_as_file(str(path))


def _box(data: dict[str, Any]) -> Box:
    return Box(float(data["width"]), float(data["height"]), float(data["top"]), bool(data["shown"]))
