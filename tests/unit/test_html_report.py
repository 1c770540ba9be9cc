"""The HTML report: what it shows of a validation, escaped, in one file that fetches nothing from elsewhere."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.browser.synthetic_history import (
    DEPLOYMENT,
    EXECUTION_ARN,
    Reading,
    StageSpec,
    SyntheticValidation,
    failing_validation,
    synthetic_validation,
)
from tests.unit.test_report_resolution import (
    ECS_SERVICE_DEPLOYMENT,
    ETAG,
    LAMBDA_DEPLOYMENT,
    LISTENER_ARN,
    SUITE_KEY,
    TEST_URL,
    VERSION_ID,
)
from tollgate.html_report import FOLD_TABLE_OVER_ROWS, RAW_HISTORY_EVENTS, render_html_report, write_html_report
from tollgate.report import deployment_resolution
from tollgate.timeline import timeline_of
from tollgate.workflow_graph import load_definition
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import Deployment, SuiteSourceKind

DEFINITION = load_definition()
SUITE = "suites/shop.yaml"


class Page(HTMLParser):
    """The elements of a rendered report, each with its attributes and the text directly inside it."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: dict[int, str] = {}
        self._open: list[int] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag not in ("rect", "line", "circle", "path", "meta", "br"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self.elements[self._open[-1]][0] != tag:
            self._open.pop()
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            index = self._open[-1]
            self.texts[index] = self.texts.get(index, "") + data

    def having(self, tag: str, css_class: str | None = None) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and (css_class is None or css_class in attrs.get("class", "").split())
        ]

    def text_of(self, tag: str, css_class: str) -> list[str]:
        return [
            self.texts.get(index, "").strip()
            for index, (name, attrs) in enumerate(self.elements)
            if name == tag and css_class in attrs.get("class", "").split()
        ]


def _rendered(validation: SyntheticValidation, console_url: str | None = None) -> str:
    return render_html_report(
        validation.report, validation.history, DEFINITION, suite_source=SUITE, console_url=console_url
    )


def test_the_verdict_and_its_reason_head_the_report() -> None:
    # Given a validation whose soak stage ran out of its failure budget
    validation = failing_validation()

    # When its report is rendered
    page = Page(_rendered(validation))

    # Then the verdict and its reason come first
    assert page.having("header")[0]["class"] == "verdict failed"
    assert page.text_of("span", "status") == ["Failed"]
    reason = validation.report["reason"]
    assert reason is not None and reason.startswith("stage 'soak': 4 failed probes, budget 3")
    assert page.text_of("p", "reason") == [reason]


def test_the_facts_say_what_was_validated_where_and_how_long() -> None:
    # Given a validation of a CodeDeploy deployment
    validation = failing_validation()

    # When its report is rendered
    document = _rendered(validation)

    # Then it names the suite, the target, the controller, the deployment ids, the execution and the duration
    for fact in (
        SUITE,
        "https://green.shop.example",
        "CodeDeploy",
        "d-SYNTH3TIC",
        "eyJzeW50aGV0aWMiOiJob29rIn0",
        "AfterAllowTestTraffic",
        EXECUTION_ARN,
        f"{validation.report['durationSeconds']:.2f} s",
    ):
        assert f"<dd>{html.escape(fact)}</dd>" in document, fact


def facts_of(document: str) -> dict[str, str]:
    """The facts at the top, label to value, as a reader sees them."""
    return {
        html.unescape(label): html.unescape(value)
        for label, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", document)
    }


def recorded_by_the_hook(deployment: Deployment) -> dict[str, Any]:
    """The synthetic deployment, with the suite source and what the hook resolved from `deployment`."""
    return {**DEPLOYMENT, **deployment_resolution(deployment)}


def test_a_catalog_suite_and_what_the_deployment_resolved_are_facts_of_their_own() -> None:
    # Given a validation whose hook read its suite from the catalog and its target from the test listener
    validation = synthetic_validation(
        [StageSpec("smoke", ["health"])], deployment=recorded_by_the_hook(ECS_SERVICE_DEPLOYMENT)
    )

    # When its report is rendered (with the file name `run` would give)
    facts = facts_of(_rendered(validation))

    # Then the suite is the exact object the hook read, the target the listener's, and the deployment group named
    assert facts["suite"] == f"{SUITE_KEY} (version {VERSION_ID}, ETag {ETAG})"
    assert facts["target"] == f"{TEST_URL} (testListener {LISTENER_ARN})"
    assert facts["deployment group"] == "orders/orders-dg"
    assert list(facts)[:4] == ["suite", "target", "controller", "deployment group"]
    # and the deployment ids are still there, without the documents repeated as raw text
    assert facts["deployment"] == "d-SYNTH3TIC"
    assert not [value for value in facts.values() if "{" in value]


def test_a_lambda_deployments_function_version_is_a_fact() -> None:
    validation = synthetic_validation(
        [StageSpec("smoke", ["health"])], deployment=recorded_by_the_hook(LAMBDA_DEPLOYMENT)
    )

    facts = facts_of(_rendered(validation))

    assert facts["function"] == "orders-api:7 (alias live, from 6)"
    assert facts["suite"] == "file suites/before-allow-traffic.yaml"
    assert facts["target"] == "https://green.shop.example"


def test_an_execution_started_before_the_hooks_recorded_them_shows_the_facts_it_has() -> None:
    # Given a validation whose deployment carries only the hook's ids / When its report is rendered
    facts = facts_of(_rendered(failing_validation()))

    # Then the suite is what the caller said it was, and nothing else is made up
    assert list(facts) == [
        "suite",
        "target",
        "controller",
        "deployment",
        "hook execution",
        "lifecycle event",
        "execution",
        "started",
        "duration",
        "probes",
    ]
    assert facts["suite"] == SUITE


def test_a_suite_source_is_escaped() -> None:
    # Given a suite file whose name holds markup
    source = {"kind": SuiteSourceKind.FILE, "location": "suites/<b>bold</b>.yaml"}
    validation = synthetic_validation(
        [StageSpec("smoke", ["health"])], deployment={**DEPLOYMENT, "suiteSource": source}
    )

    # When the report is rendered
    document = _rendered(validation)

    # Then the name is text
    assert "<dd>file suites/&lt;b&gt;bold&lt;/b&gt;.yaml</dd>" in document
    assert "<b>" not in document


def test_the_console_link_is_the_only_address_the_report_leads_to() -> None:
    # Given a validation that ran on AWS, and its page in the console
    console_url = execution_console_url(EXECUTION_ARN)
    assert console_url is not None

    # When its report is rendered with the link
    document = _rendered(failing_validation(), console_url)
    page = Page(document)

    # Then the execution links to the console, and nothing else leads or loads from anywhere
    assert [attrs["href"] for attrs in page.having("a")] == [console_url]
    assert not [attrs for _, attrs in page.elements if "src" in attrs]
    assert not page.having("script") and not page.having("link") and not page.having("img")
    assert not re.search(r"url\((?!#)", document)  # CSS and SVG refer only to the page's own markers
    assert not re.search(r"@import|@font-face", document)


def test_a_local_run_links_nowhere() -> None:
    # Given a validation that ran on the embedded engine: no console to link to
    # When its report is rendered
    document = _rendered(failing_validation())

    # Then no address is linked; the only web addresses are the target and the SVG namespace, as text
    assert not Page(document).having("a")
    assert set(re.findall(r"https?://[\w./:-]+", document)) == {
        "https://green.shop.example",
        "http://www.w3.org/2000/svg",
    }


def test_every_check_has_a_row_in_the_timeline_in_the_report_order() -> None:
    # Given a validation of three routes and a metric check in two stages
    # When its report is rendered
    page = Page(_rendered(failing_validation()))

    # Then each route and each metric check has one row, in the order the report lists them
    rows = page.having("text", "row-label")
    assert [row["data-check"] for row in rows] == ["health", "flaky", "orders", "error-rate"]
    assert [row["class"] for row in rows] == ["row-label", "row-label", "row-label failed", "row-label failed"]


def test_every_attempt_is_a_bar_coloured_by_its_result() -> None:
    # Given smoke: health, flaky (503, then 200); soak, two rounds: health, orders (500 twice), error rate too high
    # When the report is rendered
    page = Page(_rendered(failing_validation()))

    # Then each attempt is a bar: passed, failed and retried, or failed for good
    bars = [attrs["class"] for attrs in page.having("rect", "bar")]
    assert bars.count("bar passed") == 1 + 1 + 2
    assert bars.count("bar retried") == 1 + 2
    assert bars.count("bar failed") == 2 + 2
    assert len(bars) == 11


def test_a_bar_tells_its_attempt_latency_and_a_reading_its_value() -> None:
    # Given the failing validation
    # When the report is rendered
    document = _rendered(failing_validation())

    # Then hovering a bar tells the attempt, its status and latency, or the reading's value, and the reason
    assert re.search(
        r"<title>flaky · smoke round 1 · attempt 1: failed, 503 in 12\.0 ms: status 503, expected 2xx", document
    )
    assert re.search(
        r"<title>error-rate · soak round 2 · reading: failed, value 3\.4: 5xx rate 3\.4% over max 1%", document
    )


def test_waits_are_shaded_and_stage_starts_marked() -> None:
    # Given retries after failed attempts, and a 5 s wait between soak's rounds
    # When the report is rendered
    document = _rendered(failing_validation())
    page = Page(document)

    # Then every retry's wait is shaded in its row, the round's wait across all rows, and each stage's start marked
    assert len(page.having("rect", "retry-wait")) == 1 + 2
    assert len(page.having("rect", "round-wait")) == 1
    assert "<title>waiting 5 s before round 2 of soak</title>" in document
    assert [mark["data-stage"] for mark in page.having("g", "stage-mark")] == ["smoke", "soak"]


def test_every_probe_and_its_reason_is_in_its_stage_table() -> None:
    # Given the failing validation
    validation = failing_validation()

    # When the report is rendered
    page = Page(_rendered(validation))

    # Then each stage lists every probe, the failed ones with their reasons
    assert [(s["data-stage"], s["class"]) for s in page.having("section", "stage")] == [
        ("smoke", "stage passed"),
        ("soak", "stage failed"),
    ]
    rows = page.having("tr", "passed") + page.having("tr", "failed")
    assert len(rows) == sum(len(stage["probes"]) for stage in validation.report["stages"]) == 2 + 6
    cells = [text for index, text in page.texts.items() if page.elements[index][0] == "td"]
    assert cells.count("status 500, expected 2xx") == 2
    assert cells.count("5xx rate 3.4% over max 1%") == 2


def test_a_large_stage_shows_its_failed_probes_and_folds_the_rest_away() -> None:
    # Given a stage with more probes than a table shows open, one of which failed
    routes = [f"route-{number}" for number in range(FOLD_TABLE_OVER_ROWS + 1)]

    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        return [Reading(ok=check != "route-7", status_code=500, reason="status 500, expected 2xx")]

    validation = synthetic_validation([StageSpec("soak", routes)], outcomes)

    # When the report is rendered
    page = Page(_rendered(validation))

    # Then the failed probe is shown, and the whole table is folded away
    assert len(page.having("tr", "failed")) == 2  # once among the failed, once in the folded table
    assert len(page.having("details", "all-probes")) == 1
    assert "open" not in page.having("details", "all-probes")[0]


def test_names_and_reasons_are_escaped() -> None:
    # Given a route whose name and reason hold markup
    name = '<img src=x onerror="alert(1)">'

    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        return [Reading(ok=False, status_code=500, reason="<script>alert('reason')</script>")]

    validation = synthetic_validation([StageSpec("smoke", [name])], outcomes)

    # When the report is rendered
    document = _rendered(validation)

    # Then the markup is text, everywhere it appears
    assert "<img" not in document and "<script" not in document
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in document
    assert "&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;" in document
    assert Page(document).having("text", "row-label")[0]["data-check"] == name


def test_the_graph_highlights_the_states_entered_and_the_transitions_taken() -> None:
    # Given the failing validation, which neither crashed nor skipped a wait
    # When the report is rendered
    page = Page(_rendered(failing_validation()))

    # Then the states it went through are highlighted, with their counts, and those it did not are not
    entered = {attrs["data-state"]: int(attrs["data-entered"]) for attrs in page.having("g", "entered")}
    assert set(entered) == {
        "Prepare round",
        "Run checks",
        "Route or metric?",
        "Probe route",
        "Read metric",
        "Passed or out of attempts?",
        "Wait before retry",
        "Probe finished",
        "Tally round",
        "Next step?",
        "Wait before next round",
        "Report to CodeDeploy",
    }
    assert entered["Read metric"] == 2
    transitions = page.having("g", "transition")
    taken = {(attrs["data-from"], attrs["data-to"]) for attrs in transitions if "taken" in attrs["class"].split()}
    assert ("Wait before retry", "Probe route") in taken
    assert ("Probe route", "Record probe crash") not in taken


def test_the_raw_history_is_folded_away_and_a_long_one_shortened() -> None:
    # Given a short history and one longer than the report keeps
    short = failing_validation()
    long = synthetic_validation([StageSpec("soak", [f"route-{n}" for n in range(40)], rounds=2)])
    assert len(short.history) < RAW_HISTORY_EVENTS < len(long.history)

    # When their reports are rendered
    short_page, long_document = Page(_rendered(short)), _rendered(long)

    # Then all of the short one's events are there, folded; of the long one the first and the last, saying so
    history_text = next(text for index, text in short_page.texts.items() if short_page.elements[index][0] == "pre")
    assert len(history_text.strip().splitlines()) == len(short.history)
    assert f"Raw execution history ({len(short.history)} events)" in _rendered(short)
    omitted = len(long.history) - RAW_HISTORY_EVENTS
    assert f"{omitted} events left out: GetExecutionHistory has them all" in long_document
    assert '"type": "ExecutionSucceeded"' in html.unescape(long_document)


def test_a_crashed_attempt_is_read_from_the_crash_the_workflow_recorded() -> None:
    # Given a probe function that timed out on a route's only attempt
    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        return [Reading(ok=False, crash="Sandbox.Timedout")]

    history = synthetic_validation([StageSpec("smoke", ["health"])], outcomes).history

    # When the timeline is read
    (row,) = timeline_of(history).rows

    # Then the attempt ended, failed, with the crash as its reason
    (attempt,) = row.attempts
    assert attempt.ended is not None and attempt.result is not None
    assert (attempt.result["ok"], attempt.result["reason"]) == (False, "probe function failed: Sandbox.Timedout")


def test_a_history_that_ends_mid_attempt_leaves_the_attempt_open() -> None:
    # Given the history of a validation read while one attempt was still running
    history = failing_validation().history
    last_exit = max(
        index
        for index, event in enumerate(history)
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "Probe route"
    )
    running = history[:last_exit]

    # When its report is rendered
    validation = failing_validation()
    page = Page(render_html_report(validation.report, running, DEFINITION))

    # Then that attempt is drawn as having no result yet
    assert len(page.having("rect", "pending")) == 1


def test_attempts_interleaved_across_iterations_go_to_their_own_check() -> None:
    # Given a round whose iterations' events interleave in the history
    validation = failing_validation()

    # When the timeline is read
    timeline = timeline_of(validation.history)

    # Then each check's attempts are its own, in its stages and rounds, one after the other
    for row in timeline.rows:
        assert all(a.result is not None and a.result["route"] == row.check for a in row.attempts)
        starts = [attempt.started for attempt in row.attempts]
        assert starts == sorted(starts)
    attempts = {row.check: [(a.stage, a.round) for a in row.attempts] for row in timeline.rows}
    assert attempts["orders"] == [("soak", 1), ("soak", 1), ("soak", 2), ("soak", 2)]
    assert attempts["health"] == [("smoke", 1), ("soak", 1), ("soak", 2)]


def test_a_dry_run_says_what_the_deployment_received() -> None:
    # Given a dry run that would have failed
    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        return [Reading(ok=False, status_code=500, reason="status 500, expected 2xx")]

    validation = synthetic_validation([StageSpec("smoke", ["health"])], outcomes, dry_run=True)

    # When its report is rendered
    document = _rendered(validation)
    page = Page(document)

    # Then the verdict is the one it would have had, and the deployment's Succeeded is said apart
    assert page.text_of("span", "status") == ["Failed"]
    assert page.text_of("span", "dry-run-tag") == ["dry run"]
    assert "Dry run: CodeDeploy received <strong>Succeeded</strong>" in document


def test_a_validation_that_never_ran_a_check_still_has_a_report() -> None:
    # Given a hook that failed before any execution: a report without probes, and no history
    validation = synthetic_validation([StageSpec("smoke", ["health"])])
    report = {**validation.report, "stages": [{**validation.report["stages"][0], "probes": []}], "executionArn": None}

    # When its report is rendered
    document = render_html_report(report, [], DEFINITION)  # type: ignore[arg-type]

    # Then it says so, and still draws the workflow, untouched
    assert "No check ran." in document
    assert 'class="state entered' not in document


def test_the_report_is_written_to_its_file(tmp_path: Path) -> None:
    # Given a path
    path = tmp_path / "report.html"
    validation = failing_validation()

    # When the report is written there
    write_html_report(path, validation.report, validation.history, DEFINITION, suite_source=SUITE)

    # Then the file holds the rendered page, as UTF-8
    assert path.read_text(encoding="utf-8") == _rendered(validation)


def test_a_history_without_state_data_says_why_there_is_no_timeline() -> None:
    # Given a history read without includeExecutionData: events without their input and output
    validation = failing_validation()
    bare = [
        {
            key: {name: data for name, data in value.items() if name not in ("input", "output")}
            if key.startswith("state")
            else value
            for key, value in event.items()
        }
        for event in validation.history
    ]

    # When the report is rendered from it
    document = render_html_report(validation.report, bare, DEFINITION)

    # Then the timeline says why it is empty, and the stage tables still list every probe
    assert "holds no state data to draw the checks from" in document
    assert len(Page(document).having("tr", "failed")) == 4
