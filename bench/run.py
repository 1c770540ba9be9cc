"""Tollgate's benchmark: what a validation costs on the embedded engine, measured the same way every time.

Run with `make bench`. Prints one table and writes the same figures to bench/results.json. Every
figure is a median over repeated runs with its min and max; every comparison is a ratio of figures
measured in the same run. Targets are in TARGETS; a missed one is reported, not hidden.
`python -m bench.run --profile scale` (or `one-route`) runs one whole-process scenario under a profiler instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.process_memory import TreeMemory, peak_tree_memory
from bench.profile import NoProfiler, profile_command
from bench.whole_process import ColdRun, cold_run, engine_ready, user_environment, validate_seconds
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
WHOLE_PROCESS_REPEATS = 9
COLD_SCALE_REPEATS = 2
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
MIB = 2**20
TABLE_WIDTH = 150
TARGETS = {
    "engineReadySeconds": 0.8,
    "oneRouteRunSeconds": 2.5,
    "oneRouteRunOverValidate": 4.0,
    "scaleColdWallSeconds": 12.0,
    "workflowOverInProcessAt50Routes": 5.0,
    "scalePeakEngineMemoryMiB": 500.0,
    "overheadPerEventMs": 10.0,
    "verdictOverBudgetSeconds": 1.0,
    "probeImportOverRequests": 1.5,
    "handlerImportOverBoto3": 1.3,
    "transitionsPerPassingProbe": 4.0,
    "scaleWarmWallSeconds": 20.0,
    "htmlReportBytes": 2 * 1024 * 1024,
}


def spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


def load_suite(routes: int, rounds: int = ROUNDS, concurrency: int = 10) -> dict[str, Any]:
    """One stage of `routes` routes on the instant target, zero waits between rounds."""
    return suite_document(
        stage("load", *[route(f"r{i}", f"/r/{i}") for i in range(routes)], rounds=rounds),
        maxConcurrency=concurrency,
    )


def one_route_suite() -> dict[str, Any]:
    """The smallest suite a user writes: one route, probed once."""
    return suite_document(stage("smoke", route("r0", "/r/0")))


def target_routes() -> dict[str, Behaviour]:
    behaviours = {f"/r/{i}": Behaviour() for i in range(SCALE_ROUTES)}
    behaviours["/broken"] = Behaviour(status=500)
    return behaviours


class Bench:
    def __init__(self, engine: LocalEngine, target: TargetService, workdir: Path) -> None:
        self.engine = engine
        self.target = target
        self.workdir = workdir

    def suite(self, routes: int, rounds: int = ROUNDS, concurrency: int = 10) -> dict[str, Any]:
        return load_suite(routes, rounds, concurrency)

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
        **user_environment(),
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


def largest_payload(history: list[dict[str, Any]]) -> int:
    largest = 0
    for event in history:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        largest = max(largest, len(details[field].encode("utf-8")))
    return largest


def memory_figures(peaks: Sequence[TreeMemory]) -> dict[str, Any]:
    return {
        "peakEnginePssMiB": spread([peak.pss_bytes / MIB for peak in peaks]),
        "peakEngineRssMiB": spread([peak.rss_bytes / MIB for peak in peaks]),
        "processes": max(peak.processes for peak in peaks),
    }


def scale_warm(bench: Bench) -> dict[str, Any]:
    """200 x 3 on the bench's engine, already running and warm from earlier runs: the validation alone.

    Memory is this process (which runs the edge and the Lambda runtime, as the CLI does) and its children.
    """
    walls, peaks, payloads = [], [], []
    for _ in range(2):
        with peak_tree_memory() as peak:
            outcome = bench.run(bench.suite(SCALE_ROUTES, concurrency=SCALE_CONCURRENCY))
        walls.append(outcome.seconds_to_status or outcome.duration_seconds)
        peaks.append(peak[0])
        payloads.append(largest_payload(outcome.history))
    return {
        "routes": SCALE_ROUTES,
        "rounds": ROUNDS,
        "maxConcurrency": SCALE_CONCURRENCY,
        "wallSeconds": spread(walls),
        **memory_figures(peaks),
        "largestStatePayloadBytes": max(payloads),
        "statePayloadCapBytes": STATE_PAYLOAD_CAP,
    }


def engine_ready_figures(workdir: Path) -> dict[str, Any]:
    """`LocalEngine().start()` in a fresh process, clocked from before its first import; a first, untimed start
    writes the bytecode caches that every later run of a user's finds."""
    engine_ready(workdir / "engine-ready-warm-up.log")
    runs = [engine_ready(workdir / f"engine-ready-{run}.log") for run in range(WHOLE_PROCESS_REPEATS)]
    return {name: spread([run[name] for run in runs]) for name in runs[0]}


def one_route_figures(target: TargetService, workdir: Path) -> dict[str, Any]:
    """`tollgate run` of a one-route suite and `tollgate validate` of the same file, each a whole process,
    interleaved so a busy moment of the machine hits both alike."""
    suite_path = write_suite(workdir, one_route_suite(), "one-route.yaml")
    report_path = workdir / "one-route-report.json"
    cold_run(suite_path, target.url, report_path)  # untimed: writes the CLI's bytecode caches
    runs: list[ColdRun] = []
    validations: list[float] = []
    for _ in range(WHOLE_PROCESS_REPEATS):
        validations.append(validate_seconds(suite_path))
        runs.append(cold_run(suite_path, target.url, report_path))
    run_seconds = [run.wall_seconds for run in runs]
    return {
        "routes": 1,
        "rounds": 1,
        "runSeconds": spread(run_seconds),
        "validationSeconds": spread([run.validation_seconds for run in runs]),
        "validateSeconds": spread(validations),
        "runOverValidate": round(statistics.median(run_seconds) / statistics.median(validations), 2),
    }


def scale_cold(target: TargetService, workdir: Path) -> dict[str, Any]:
    """200 x 3 as a user runs it: `tollgate run` from a cold start, a fresh engine each time, its memory the
    CLI process and everything it started."""
    suite_path = write_suite(workdir, load_suite(SCALE_ROUTES, concurrency=SCALE_CONCURRENCY), "scale.yaml")
    runs = []
    for run in range(COLD_SCALE_REPEATS):
        runs.append(cold_run(suite_path, target.url, workdir / f"scale-report-{run}.json", sample_memory=True))
        if runs[-1].passed != SCALE_ROUTES * ROUNDS:
            raise RuntimeError(f"cold 200 x 3: {runs[-1].passed} of {runs[-1].probes} final probes passed")
    return {
        "routes": SCALE_ROUTES,
        "rounds": ROUNDS,
        "maxConcurrency": SCALE_CONCURRENCY,
        "wallSeconds": spread([run.wall_seconds for run in runs]),
        "validationSeconds": spread([run.validation_seconds for run in runs]),
        **memory_figures([run.peak for run in runs]),
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


class Progress:
    """What the bench is measuring, and since when, on stderr."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.started = time.perf_counter()

    def part(self, name: str) -> None:
        self.console.print(f"[dim]{self.seconds():5.0f} s  {name}[/dim]")

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def measure() -> dict[str, Any]:
    progress = Progress()
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    with TargetService(target_routes()) as target:
        progress.part(f"engine ready in a fresh process ({WHOLE_PROCESS_REPEATS} + 1 starts)")
        ready = engine_ready_figures(workdir)
        progress.part(f"one route: tollgate run and tollgate validate, whole processes ({WHOLE_PROCESS_REPEATS} each)")
        one_route = one_route_figures(target, workdir)
        progress.part(f"{SCALE_ROUTES} x {ROUNDS}: tollgate run from a cold start ({COLD_SCALE_REPEATS} runs)")
        cold = scale_cold(target, workdir)
        progress.part("warm engine: starting, warming up")
        with LocalEngine(log_path=workdir / "engine.log") as engine:
            bench = Bench(engine, target, workdir)
            bench.run(bench.suite(10))
            progress.part("engine overhead")
            overhead, samples = engine_overhead(bench)
            progress.part("in-process baseline")
            in_process = baseline(bench, overhead)
            progress.part("time to verdict")
            verdict = time_to_verdict(bench)
            progress.part(f"{SCALE_ROUTES} x {ROUNDS} on the warm engine")
            warm = scale_warm(bench)
            startup = engine.startup_seconds
    progress.part("imports of the functions")
    imports = cold_start()
    progress.part("HTML report")
    report = html_report()
    progress.part("done")
    return {
        "measuredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "benchSeconds": round(progress.seconds()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Whatever else ran shows here: above the CPU count, processes waited for a core.
            "loadAverageAtStart": round(load_at_start, 2),
            "loadAverageAtEnd": round(os.getloadavg()[0], 2),
        },
        "engineReady": ready,
        "engineStartupSeconds": round(startup, 2),
        "oneRouteRun": one_route,
        "engineOverhead": overhead,
        "inProcessBaseline": in_process,
        "timeToVerdict": verdict,
        "coldStart": imports,
        "cost": [cost(samples[routes], routes) for routes in OVERHEAD_ROUTES],
        "scaleCold": cold,
        "scaleWarm": warm,
        "htmlReport": report,
        "targets": TARGETS,
    }


def _median(value: dict[str, Any]) -> float:
    return float(value["median"])


def local_run_verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Issue 13's targets: a local run as users see it, each beside its baseline from the same run."""
    ready = results["engineReady"]
    ready_seconds, limit = _median(ready["readySeconds"]), TARGETS["engineReadySeconds"]
    rows = [
        (
            "engine ready, fresh process (imports + start)",
            f"{ready_seconds:.2f} s (imports {_median(ready['importSeconds']):.2f} s, template "
            f"{_median(ready['templateSeconds']):.2f} s, start {_median(ready['startSeconds']):.2f} s; "
            "start after imports in the bench: "
            f"{results['engineStartupSeconds']:.2f} s)",
            f"<= {limit:g} s",
            ready_seconds <= limit,
        )
    ]
    one = results["oneRouteRun"]
    run_seconds, validate = _median(one["runSeconds"]), _median(one["validateSeconds"])
    limit, ratio_limit = TARGETS["oneRouteRunSeconds"], TARGETS["oneRouteRunOverValidate"]
    rows.append(
        (
            "`tollgate run`, 1 route, whole process",
            f"{run_seconds:.2f} s (validation {_median(one['validationSeconds']):.2f} s of it)",
            f"<= {limit:g} s",
            run_seconds <= limit,
        )
    )
    rows.append(
        (
            "`tollgate run` / `tollgate validate`, 1 route",
            f"{one['runOverValidate']:.1f}x ({run_seconds:.2f} s / {validate:.2f} s)",
            f"<= {ratio_limit:g}x",
            one["runOverValidate"] <= ratio_limit,
        )
    )
    cold, warm = results["scaleCold"], results["scaleWarm"]
    label = f"{cold['routes']} routes x {cold['rounds']} rounds"
    cold_wall, warm_wall = _median(cold["wallSeconds"]), _median(warm["wallSeconds"])
    limit = TARGETS["scaleColdWallSeconds"]
    rows.append(
        (
            f"{label}, `tollgate run` from a cold start: wall",
            f"{cold_wall:.1f} s (validation {_median(cold['validationSeconds']):.1f} s; warm engine {warm_wall:.1f} s)",
            f"<= {limit:g} s",
            cold_wall <= limit,
        )
    )
    at_50 = next(row for row in results["inProcessBaseline"] if row["routes"] == 50)
    workflow = next(row for row in results["engineOverhead"] if row["routes"] == 50)
    limit = TARGETS["workflowOverInProcessAt50Routes"]
    rows.append(
        (
            "workflow / in-process, 50 routes (warm engine)",
            f"{at_50['workflowOverInProcess']:.1f}x ({_median(workflow['wallSeconds']):.2f} s / "
            f"{_median(at_50['inProcessSeconds']):.2f} s)",
            f"<= {limit:g}x",
            at_50["workflowOverInProcess"] <= limit,
        )
    )
    pss, limit = _median(cold["peakEnginePssMiB"]), TARGETS["scalePeakEngineMemoryMiB"]
    rows.append(
        (
            f"{label}, cold: peak memory of the engine (PSS)",
            f"{pss:.0f} MiB (RSS {_median(cold['peakEngineRssMiB']):.0f} MiB; {cold['processes']} processes)",
            f"<= {limit:g} MiB",
            pss <= limit,
        )
    )
    return rows


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for every figure that has a target."""
    rows = local_run_verdicts(results)
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
    warm = results["scaleWarm"]
    wall, limit = _median(warm["wallSeconds"]), TARGETS["scaleWarmWallSeconds"]
    rows.append(
        (
            f"{SCALE_ROUTES} routes x {ROUNDS} rounds on a warm engine: wall",
            f"{wall:.1f} s",
            f"<= {limit:g} s",
            wall <= limit,
        )
    )
    payload = warm["largestStatePayloadBytes"]
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
    if not console.is_terminal:  # a log or a pipe: wide enough that every figure stays on one line
        console.width = TABLE_WIDTH
    machine = results["machine"]
    table = Table(
        title=f"Tollgate bench ({machine['cpus']} CPUs, Python {machine['python']}; load average "
        f"{machine['loadAverageAtStart']:g} at the start, {machine['loadAverageAtEnd']:g} at the end)"
    )
    for column in ("figure", "median", "min - max", "target"):
        table.add_column(column)

    def add(figure: str, value: dict[str, Any], unit: str, target: str = "") -> None:
        table.add_row(figure, f"{value['median']:.2f} {unit}", f"{value['min']:.2f} - {value['max']:.2f}", target)

    ready = results["engineReady"]
    add("engine ready, fresh process: imports + start", ready["readySeconds"], "s", "<= 0.8 s")
    add("  of which imports", ready["importSeconds"], "s")
    add("  of which LocalEngine() (reads template.yaml)", ready["templateSeconds"], "s")
    add("  of which LocalEngine.start()", ready["startSeconds"], "s")
    add("  then stop", ready["stopSeconds"], "s")
    add("  the whole process (interpreter start to exit)", ready["processSeconds"], "s")
    one = results["oneRouteRun"]
    add("`tollgate run`, 1 route, whole process", one["runSeconds"], "s", "<= 2.5 s")
    add("  of which the validation (hook invoked to verdict)", one["validationSeconds"], "s")
    add("`tollgate validate`, the same suite", one["validateSeconds"], "s", f"run {one['runOverValidate']}x (<= 4x)")
    cold = results["scaleCold"]
    label = f"{cold['routes']} x {cold['rounds']}"
    add(f"{label} `tollgate run`, cold start: wall", cold["wallSeconds"], "s", "<= 12 s")
    add("  of which the validation (hook invoked to verdict)", cold["validationSeconds"], "s")
    add(f"{label} cold: peak engine memory, PSS", cold["peakEnginePssMiB"], "MiB", "<= 500 MiB")
    add(f"{label} cold: peak engine memory, RSS", cold["peakEngineRssMiB"], "MiB", f"{cold['processes']} processes")
    for row in results["engineOverhead"]:
        label = f"{row['routes']} routes x {row['rounds']} rounds"
        add(f"{label}: wall", row["wallSeconds"], "s")
        add(f"{label}: history events", row["historyEvents"], "")
        add(f"{label}: overhead per event", row["overheadPerEventMs"], "ms", "<= 10 ms")
    for row in results["inProcessBaseline"]:
        target = f"workflow {row['workflowOverInProcess']}x" + (" (<= 5x)" if row["routes"] == 50 else "")
        add(f"{row['routes']} routes in-process (no workflow)", row["inProcessSeconds"], "s", target)
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
    warm = results["scaleWarm"]
    label = f"{warm['routes']} x {warm['rounds']} warm engine"
    add(f"{label}: wall", warm["wallSeconds"], "s", "<= 20 s")
    add(f"{label}: peak memory (bench + engine), PSS", warm["peakEnginePssMiB"], "MiB")
    add(
        f"{label}: peak memory (bench + engine), RSS", warm["peakEngineRssMiB"], "MiB", f"{warm['processes']} processes"
    )
    table.add_row(
        f"{label}: largest state payload", f"{warm['largestStatePayloadBytes'] / 1024:.0f} KiB", "", "< 256 KiB"
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


PROFILED = {"scale": (lambda: load_suite(SCALE_ROUTES, concurrency=SCALE_CONCURRENCY)), "one-route": one_route_suite}


def profile(scenario: str) -> int:
    """One whole-process scenario (`tollgate run` from a cold start) under a profiler, against the instant target."""
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-profile-"))
    suite_path = write_suite(workdir, PROFILED[scenario](), f"{scenario}.yaml")
    with TargetService(target_routes()) as target:
        try:
            paths = profile_command(scenario, ["run", "--suite", str(suite_path), "--target", target.url, "--quiet"])
        except NoProfiler as error:
            print(error, file=sys.stderr)
            return 2
    for path in paths:
        print(f"profile written to {path.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILED),
        help="instead of the bench, run this scenario's `tollgate run` under py-spy (or pyinstrument) into build/",
    )
    arguments = parser.parse_args(argv)
    if arguments.profile:
        return profile(arguments.profile)
    results = measure()
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    print(f"figures written to {RESULTS_PATH.relative_to(ROOT)}; the bench took {results['benchSeconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
