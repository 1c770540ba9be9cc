"""Tollgate's benchmark: what a validation costs on the embedded engine, measured the same way every time.

Run with `make bench`. Prints one table and writes the same figures to bench/results.json. Every
figure is a median over repeated runs with its min and max; every comparison is a ratio of figures
measured in the same run. Targets are in TARGETS; a missed one is reported, not hidden.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.browser.report_page import CHROMEDRIVER, CHROMIUM, headless_chromium
from tests.browser.synthetic_history import large_validation
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.engine import LocalEngine
from tollgate.html_report import render_html_report
from tollgate.local_run import RunOutcome, attempts_of, run_validation
from tollgate.workflow_graph import load_definition
from tollgate_core.checks import routes_of
from tollgate_core.contracts import ProbeResult, Route
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.progress import initial_progress, tally_round
from tollgate_core.suite import Suite, parse_suite
from tollgate_core.verdict import decide

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "bench" / "results.json"
REPEATS = 3
COLD_START_REPEATS = 10
ROUNDS = 3
OVERHEAD_ROUTES = (1, 10, 50)
SCALE_ROUTES = 200
SCALE_CONCURRENCY = 40  # the most an inline Map runs at once
STATE_PAYLOAD_CAP = 256 * 1024
# us-east-1 list prices: Step Functions Standard per state transition; Lambda (x86) per request and GB-second.
PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND = 0.0000166667
LAMBDA_MEMORY_GB = 256 / 1024
HTML_REPORT_ROUTES = 200
HTML_REPORT_ROUNDS = 10
TARGETS = {
    "overheadPerEventMs": 10.0,
    "verdictOverBudgetSeconds": 1.0,
    "probeImportOverRequests": 1.5,
    "handlerImportOverBoto3": 1.3,
    "transitionsPerPassingProbe": 4.0,
    "scaleWallSeconds": 20.0,
    "htmlReportBytes": 2 * 1024 * 1024,
}


def spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


class Bench:
    def __init__(self, engine: LocalEngine, target: TargetService, workdir: Path) -> None:
        self.engine = engine
        self.target = target
        self.workdir = workdir

    def suite(self, routes: int, rounds: int = ROUNDS, concurrency: int = 10) -> dict[str, Any]:
        return suite_document(
            stage("load", *[route(f"r{i}", f"/r/{i}") for i in range(routes)], rounds=rounds),
            maxConcurrency=concurrency,
        )

    def run(self, document: dict[str, Any]) -> RunOutcome:
        outcome = run_validation(self.engine, write_suite(self.workdir, document), self.target.url, timeout_seconds=600)
        if outcome.reported_status == "Pending":
            raise RuntimeError("a validation did not report within 600 s")
        return outcome


def engine_overhead(bench: Bench) -> tuple[list[dict[str, Any]], dict[int, RunOutcome]]:
    rows, sample = [], {}
    for routes in OVERHEAD_ROUTES:
        walls, events, per_event, http = [], [], [], []
        for _ in range(REPEATS):
            outcome = bench.run(bench.suite(routes))
            wall = outcome.seconds_to_status or outcome.duration_seconds
            http_seconds = sum(a["latencyMs"] or 0 for a in attempts_of(outcome)) / 1000
            walls.append(wall)
            events.append(len(outcome.history))
            http.append(http_seconds)
            per_event.append((wall - http_seconds) / len(outcome.history) * 1000)
            sample[routes] = outcome
        rows.append(
            {
                "routes": routes,
                "rounds": ROUNDS,
                "wallSeconds": spread(walls),
                "historyEvents": spread(events),
                "httpSeconds": spread(http),
                "overheadPerEventMs": spread(per_event),
            }
        )
    return rows, sample


def in_process_seconds(suite: Suite) -> float:
    """The same probes, rounds and verdict by the domain code alone, as one Lambda without a workflow would."""
    started = time.perf_counter()
    progress = initial_progress(suite.stages)
    rng = random.Random(0)
    stage_document = suite.stages[0]

    def probe_until_final(route_document: Route, round_number: int) -> ProbeResult:
        attempt = 1
        while True:
            request = ProbeRequest(stage_document["name"], route_document, suite.target, round_number, attempt)
            result = probe_attempt(request, rng=rng)
            if result["final"]:
                return result
            time.sleep(result["retryInSeconds"])
            attempt += 1

    with ThreadPoolExecutor(max_workers=suite.document["maxConcurrency"]) as pool:
        for round_number in range(1, stage_document["rounds"] + 1):
            routes = routes_of(stage_document)
            results = list(pool.map(probe_until_final, routes, [round_number] * len(routes)))
            progress = tally_round(progress, results)
    decide(progress, None)
    return time.perf_counter() - started


def baseline(bench: Bench, overhead: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for row in overhead:
        suite = parse_suite(bench.suite(row["routes"])).with_base_url(bench.target.url)
        seconds = [in_process_seconds(suite) for _ in range(REPEATS)]
        rows.append(
            {
                "routes": row["routes"],
                "inProcessSeconds": spread(seconds),
                "workflowOverInProcess": round(row["wallSeconds"]["median"] / statistics.median(seconds), 1),
            }
        )
    return rows


def time_to_verdict(bench: Bench) -> dict[str, Any]:
    # A first stage that fails for good after its retries (waits of at most 1 + 1 s), then a long soak.
    retry = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1.0}
    budget_seconds = 2.0
    document = suite_document(
        stage("smoke", route("broken", "/broken", retry=retry)),
        stage("soak", route("r0", "/r/0"), rounds=5, intervalSeconds=60),
    )
    seconds = []
    for _ in range(REPEATS):
        outcome = bench.run(document)
        assert outcome.reported_status == "Failed"
        seconds.append(outcome.seconds_to_status or 0.0)
    return {"retryBudgetSeconds": budget_seconds, "secondsToVerdict": spread(seconds)}


def cold_start() -> dict[str, Any]:
    modules = ["requests", "boto3", "probe.app", "tally.app", "hook.app", "reporter.app"]
    env = {
        **os.environ,
        "SUITE_PATH": "suites/after-allow-test-traffic.yaml",
        "LIFECYCLE_EVENT": "AfterAllowTestTraffic",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    }
    code = "import sys, time; t = time.perf_counter(); __import__(sys.argv[1]); print(time.perf_counter() - t)"
    timings: dict[str, list[float]] = {module: [] for module in modules}
    for _ in range(COLD_START_REPEATS):
        for module in modules:  # interleaved, so a busy moment of the machine hits every module alike
            result = subprocess.run(
                [sys.executable, "-c", code, module], cwd=ROOT / "functions", env=env, capture_output=True, check=True
            )
            timings[module].append(float(result.stdout) * 1000)
    medians = {module: statistics.median(values) for module, values in timings.items()}
    return {
        "importMs": {module: spread(values) for module, values in timings.items()},
        "probeOverRequests": round(medians["probe.app"] / medians["requests"], 2),
        "hookOverBoto3": round(medians["hook.app"] / medians["boto3"], 2),
        "reporterOverBoto3": round(medians["reporter.app"] / medians["boto3"], 2),
    }


def _timestamp(event: dict[str, Any]) -> float:
    value = event["timestamp"]
    return value.timestamp() if isinstance(value, datetime) else datetime.fromisoformat(str(value)).timestamp()


def cost(outcome: RunOutcome, routes: int) -> dict[str, Any]:
    """Transitions counted from the execution history, priced at list prices."""
    history = outcome.history
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    probes = sum(len(round_results) for round_results in outcome.rounds)
    scheduled: list[float] = []
    lambda_seconds = 0.0
    for event in history:
        if event["type"] == "TaskScheduled":
            scheduled.append(_timestamp(event))
        elif event["type"] in ("TaskSucceeded", "TaskFailed") and scheduled:
            lambda_seconds += _timestamp(event) - scheduled.pop(0)
    invocations = sum(1 for event in history if event["type"] == "TaskScheduled") + 1  # + the hook
    price = (
        transitions * PRICE_PER_TRANSITION
        + invocations * PRICE_PER_LAMBDA_REQUEST
        + lambda_seconds * LAMBDA_MEMORY_GB * PRICE_PER_GB_SECOND
    )
    return {
        "routes": routes,
        "rounds": ROUNDS,
        "transitionsPerExecution": transitions,
        "transitionsPerPassingProbe": round(transitions / probes, 2),
        "lambdaInvocations": invocations,
        "priceUsdPerValidation": round(price, 6),
        "prices": {
            "stepFunctionsStandardPerTransition": PRICE_PER_TRANSITION,
            "lambdaPerRequest": PRICE_PER_LAMBDA_REQUEST,
            "lambdaPerGbSecond": PRICE_PER_GB_SECOND,
            "lambdaMemoryGb": LAMBDA_MEMORY_GB,
        },
    }


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


@contextmanager
def peak_engine_memory(engine: LocalEngine) -> Iterator[Callable[[], int]]:
    """Samples the resident memory of the engine's processes (this one, moto, every worker) together."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            pids = [os.getpid(), *(process.pid for process in engine.processes())]
            peak[0] = max(peak[0], sum(_rss_bytes(pid) for pid in pids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: peak[0]
    finally:
        stop.set()
        sampler.join()


def largest_payload(history: list[dict[str, Any]]) -> int:
    largest = 0
    for event in history:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        largest = max(largest, len(details[field].encode("utf-8")))
    return largest


def scale(bench: Bench) -> dict[str, Any]:
    walls, memory, payloads = [], [], []
    for _ in range(2):
        with peak_engine_memory(bench.engine) as peak:
            outcome = bench.run(bench.suite(SCALE_ROUTES, concurrency=SCALE_CONCURRENCY))
        walls.append(outcome.seconds_to_status or outcome.duration_seconds)
        memory.append(peak() / 2**20)
        payloads.append(largest_payload(outcome.history))
    return {
        "routes": SCALE_ROUTES,
        "rounds": ROUNDS,
        "maxConcurrency": SCALE_CONCURRENCY,
        "wallSeconds": spread(walls),
        "peakEngineMemoryMiB": spread(memory),
        "largestStatePayloadBytes": max(payloads),
        "statePayloadCapBytes": STATE_PAYLOAD_CAP,
    }


def html_report() -> dict[str, Any]:
    """The HTML report of 200 routes x 10 rounds (a made-up history): its size, and the time to render and load it."""
    validation = large_validation(HTML_REPORT_ROUTES, HTML_REPORT_ROUNDS)
    definition = load_definition()
    seconds, html = [], ""
    for _ in range(REPEATS):
        started = time.perf_counter()
        html = render_html_report(validation.report, validation.history, definition, suite_source="bench")
        seconds.append(time.perf_counter() - started)
    path = Path(tempfile.mkdtemp(prefix="tollgate-bench-html-")) / "report.html"
    path.write_text(html, encoding="utf-8")
    return {
        "routes": HTML_REPORT_ROUTES,
        "rounds": HTML_REPORT_ROUNDS,
        "historyEvents": len(validation.history),
        "bytes": path.stat().st_size,
        "renderSeconds": spread(seconds),
        "browserLoadSeconds": browser_load_seconds(path) if CHROMIUM.exists() and CHROMEDRIVER.exists() else None,
    }


def browser_load_seconds(path: Path) -> dict[str, Any]:
    """From navigation to the load event in headless Chromium (as `make test-browser` runs it), in seconds."""
    driver = headless_chromium(Path(tempfile.mkdtemp(prefix="tollgate-bench-chromium-")))
    try:
        seconds = []
        for _ in range(REPEATS):
            driver.get(path.as_uri())
            load_ms = driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd")
            seconds.append(float(load_ms) / 1000)
    finally:
        driver.quit()
    return spread(seconds)


def measure() -> dict[str, Any]:
    console = Console(stderr=True)
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    behaviours = {f"/r/{i}": Behaviour() for i in range(SCALE_ROUTES)}
    behaviours["/broken"] = Behaviour(status=500)
    with TargetService(behaviours) as target, LocalEngine(log_path=workdir / "engine.log") as engine:
        bench = Bench(engine, target, workdir)
        console.print(f"[dim]engine started in {engine.startup_seconds:.2f} s; warming up[/dim]")
        bench.run(bench.suite(10))
        console.print("[dim]engine overhead[/dim]")
        overhead, samples = engine_overhead(bench)
        console.print("[dim]in-process baseline[/dim]")
        in_process = baseline(bench, overhead)
        console.print("[dim]time to verdict[/dim]")
        verdict = time_to_verdict(bench)
        console.print("[dim]scale[/dim]")
        scaled = scale(bench)
        startup = engine.startup_seconds
    console.print("[dim]cold start[/dim]")
    imports = cold_start()
    console.print("[dim]HTML report[/dim]")
    report = html_report()
    return {
        "measuredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "engineStartupSeconds": round(startup, 2),
        "engineOverhead": overhead,
        "inProcessBaseline": in_process,
        "timeToVerdict": verdict,
        "coldStart": imports,
        "cost": [cost(samples[routes], routes) for routes in OVERHEAD_ROUTES],
        "scale": scaled,
        "htmlReport": report,
        "targets": TARGETS,
    }


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for every figure that has a target."""
    rows = []
    for row in results["engineOverhead"]:
        value = row["overheadPerEventMs"]["median"]
        limit = TARGETS["overheadPerEventMs"]
        rows.append(
            (
                f"overhead per history event, {row['routes']} routes",
                f"{value:.1f} ms",
                f"<= {limit:g} ms",
                value <= limit,
            )
        )
    verdict = results["timeToVerdict"]
    seconds, budget = verdict["secondsToVerdict"]["median"], verdict["retryBudgetSeconds"]
    rows.append(
        ("time to verdict on failure", f"{seconds:.2f} s", f"<= {budget + 1:g} s (B + 1 s)", seconds <= budget + 1)
    )
    imports = results["coldStart"]
    rows.append(
        (
            "probe import / requests",
            f"{imports['probeOverRequests']:.2f}x",
            "<= 1.5x",
            imports["probeOverRequests"] <= 1.5,
        )
    )
    for name in ("hook", "reporter"):
        ratio = imports[f"{name}OverBoto3"]
        rows.append((f"{name} import / boto3", f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3))
    for row in results["cost"]:
        value = row["transitionsPerPassingProbe"]
        rows.append((f"transitions per passing probe, {row['routes']} routes", f"{value:.2f}", "<= 4", value <= 4))
    wall = results["scale"]["wallSeconds"]["median"]
    rows.append((f"scale {SCALE_ROUTES} routes x {ROUNDS} rounds", f"{wall:.1f} s", "<= 20 s", wall <= 20))
    payload = results["scale"]["largestStatePayloadBytes"]
    rows.append(("largest state payload", f"{payload / 1024:.0f} KiB", "< 256 KiB", payload < STATE_PAYLOAD_CAP))
    html = results["htmlReport"]
    limit = TARGETS["htmlReportBytes"]
    rows.append(
        (
            f"HTML report {html['routes']} routes x {html['rounds']} rounds",
            f"{html['bytes'] / 1024:.0f} KiB",
            f"< {limit / 2**20:g} MiB",
            html["bytes"] < limit,
        )
    )
    return rows


def print_table(results: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"Tollgate bench ({results['machine']['cpus']} CPUs, Python {results['machine']['python']})")
    for column in ("figure", "median", "min - max", "target"):
        table.add_column(column)

    def add(figure: str, value: dict[str, Any], unit: str, target: str = "") -> None:
        table.add_row(figure, f"{value['median']:.2f} {unit}", f"{value['min']:.2f} - {value['max']:.2f}", target)

    for row in results["engineOverhead"]:
        label = f"{row['routes']} routes x {row['rounds']} rounds"
        add(f"{label}: wall", row["wallSeconds"], "s")
        add(f"{label}: history events", row["historyEvents"], "")
        add(f"{label}: overhead per event", row["overheadPerEventMs"], "ms", "<= 10 ms")
    for row in results["inProcessBaseline"]:
        add(
            f"{row['routes']} routes in-process (no workflow)",
            row["inProcessSeconds"],
            "s",
            f"workflow {row['workflowOverInProcess']}x",
        )
    verdict = results["timeToVerdict"]
    add("time to verdict on failure", verdict["secondsToVerdict"], "s", f"<= {verdict['retryBudgetSeconds'] + 1:g} s")
    for module, value in results["coldStart"]["importMs"].items():
        add(f"import {module}", value, "ms")
    for row in results["cost"]:
        table.add_row(
            f"{row['routes']} routes x {row['rounds']} rounds: transitions",
            f"{row['transitionsPerExecution']} ({row['transitionsPerPassingProbe']} per probe)",
            "",
            f"${row['priceUsdPerValidation']:.6f} per validation",
        )
    scaled = results["scale"]
    add(f"scale {scaled['routes']} x {scaled['rounds']}: wall", scaled["wallSeconds"], "s", "<= 20 s")
    add(f"scale {scaled['routes']} x {scaled['rounds']}: peak engine memory", scaled["peakEngineMemoryMiB"], "MiB")
    table.add_row(
        "scale: largest state payload", f"{scaled['largestStatePayloadBytes'] / 1024:.0f} KiB", "", "< 256 KiB"
    )
    html = results["htmlReport"]
    label = f"HTML report {html['routes']} x {html['rounds']}"
    table.add_row(
        f"{label}: size ({html['historyEvents']} history events)", f"{html['bytes'] / 1024:.0f} KiB", "", "< 2 MiB"
    )
    add(f"{label}: render", html["renderSeconds"], "s")
    if html["browserLoadSeconds"] is not None:
        add(f"{label}: load in headless Chromium", html["browserLoadSeconds"], "s")
    console.print(table)
    summary = Table(title="Targets")
    for column in ("figure", "measured", "target", "met"):
        summary.add_column(column)
    for figure, measured, target, met in verdicts(results):
        summary.add_row(figure, measured, target, "[green]yes[/green]" if met else "[red]no[/red]")
    console.print(summary)


def main() -> int:
    results = measure()
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    print(f"figures written to {RESULTS_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
