"""moto's interpreter does the same with Tollgate's patches as without: the bench's scenarios leave the same history.

Each scenario runs, at the same time, on an engine whose moto has tollgate.engine.moto_patches applied and on one
whose moto runs as released (TOLLGATE_MOTO_PATCHES=off), each against an instant target of its own, without waits.
The two histories must be the same event for event: types, order, state names, inputs, outputs, parameters and
errors (parsed JSON). What legitimately differs between two runs is set aside: timestamps and event ids, the ids
CodeDeploy makes up, the execution's name (in its ARN and console link) and start time, the target's port, and
each probe's measured latency. A Map's iterations run concurrently, so their events interleave differently from
run to run: each iteration's events are compared in their order, and the workflow's own events in theirs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.alb_metrics import new_target_group, seed_alb_traffic
from tests.support.suites import route, stage, suite_document, target_group_check, write_suite
from tests.support.target import Behaviour, TargetService
from tests.support.workflow_scenarios import NO_WAIT_RETRY
from tollgate.cli import SFN_ENDPOINT_VARIABLE
from tollgate.engine.engine import LocalEngine
from tollgate.engine.moto_patches import SWITCH_VARIABLE
from tollgate.engine.moto_server import PARSED_DEFINITIONS_VARIABLE
from tollgate.local_run import RunOutcome, run_validation

ROUNDS = 3
JSON_FIELDS = ("input", "output", "parameters", "cause")
# Values that differ between any two runs, patched or not: when the execution started and what a probe measured.
RUN_SPECIFIC_FIELDS = {"startedAt": "<execution start>", "latencyMs": "<latency>"}
ITERATION_ENDS = ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted")
WORKFLOW = "workflow"

Lanes = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Engines:
    patched: LocalEngine
    released: LocalEngine


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """Two engines: moto with the patches, and moto as released (the switch is read when moto starts)."""
    if os.environ.get(SFN_ENDPOINT_VARIABLE):
        pytest.skip("Step Functions is an external API here: moto's interpreter runs no workflow")
    logs = tmp_path_factory.mktemp("moto-patches")
    with ExitStack() as running:
        with pytest.MonkeyPatch.context() as environment:
            # The patched moto runs the program an earlier engine parsed and stored, as all engines but the first do.
            store = logs / "parsed-definitions"
            environment.setenv(PARSED_DEFINITIONS_VARIABLE, str(store))
            with LocalEngine(log_path=logs / "first.log"):
                pass
            assert list(store.rglob("*.pickle"))
            patched = running.enter_context(LocalEngine(log_path=logs / "patched.log"))
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv(SWITCH_VARIABLE, "off")
            released = running.enter_context(LocalEngine(log_path=logs / "released.log"))
        yield Engines(patched, released)


@dataclass(frozen=True)
class Validation:
    """One run of a suite: what it left, and the URL of the target it probed (each run has a target of its own)."""

    outcome: RunOutcome
    target_url: str


def run_specific_names(validation: Validation) -> dict[str, str]:
    """What only this run has, with a stand-in for each: the ids CodeDeploy made up, the execution's name (made
    from them, and part of its ARN and console link), the target's port, the suite file's path."""
    history, arn = validation.outcome.history, validation.outcome.execution_arn
    assert arn is not None
    deployment = json.loads(history[0]["executionStartedEventDetails"]["input"])["deployment"]
    return {
        deployment["lifecycleEventHookExecutionId"]: "<hook execution id>",
        deployment["deploymentId"]: "<deployment id>",
        arn.rsplit(":", 1)[1]: "<execution name>",
        validation.target_url: "<target>",
        deployment["suiteSource"]["location"]: "<suite file>",
    }


def _scrubbed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            key: RUN_SPECIFIC_FIELDS[key] if key in RUN_SPECIFIC_FIELDS and item is not None else _scrubbed(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item, names) for item in value]
    if isinstance(value, str):
        for name, stand_in in names.items():
            value = value.replace(name, stand_in)
    return value


def _parsed(field: str, value: Any) -> Any:
    if field not in JSON_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def normalised(event: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The event without its timestamp and ids, its JSON fields parsed, run-specific values replaced by names."""
    details = {
        key: {field: _scrubbed(_parsed(field, value), names) for field, value in body.items()}
        for key, body in event.items()
        if key.endswith("EventDetails")
    }
    return {"type": event["type"], **details}


def _lane(event: dict[str, Any], map_runs: int, lane_of: dict[int, str]) -> str:
    kind = event["type"]
    if kind == "MapIterationStarted" or kind in ITERATION_ENDS:
        details = next(body for key, body in event.items() if key.endswith("EventDetails"))
        return f"Map run {map_runs}, iteration {details['index']}"
    if kind.startswith("MapState"):
        return WORKFLOW
    return lane_of.get(event["previousEventId"], WORKFLOW)


def lanes(validation: Validation) -> Lanes:
    """The history as the workflow's own sequence of events and one sequence per Map iteration.

    An iteration's events chain through previousEventId back to its MapIterationStarted; the Map state's own
    events (started, succeeded, exited) belong to the workflow, whichever iteration ended last.
    """
    names = run_specific_names(validation)
    lane_of: dict[int, str] = {}
    split: Lanes = {WORKFLOW: []}
    map_runs = 0
    for event in sorted(validation.outcome.history, key=lambda event: int(event["id"])):
        map_runs += event["type"] == "MapStateStarted"
        lane = _lane(event, map_runs, lane_of)
        lane_of[int(event["id"])] = lane
        split.setdefault(lane, []).append(normalised(event, names))
    return split


def first_difference(patched: Lanes, released: Lanes) -> str | None:
    """Events compare as JSON text, so 1 and 1.0, 1 and true, or the same keys in another order differ too."""
    if patched.keys() != released.keys():
        return f"lanes differ: {sorted(patched.keys() ^ released.keys())}"
    for name, events in released.items():
        if len(patched[name]) != len(events):
            return f"{name}: {len(patched[name])} events patched, {len(events)} released"
        for position, (mine, theirs) in enumerate(zip(patched[name], events, strict=True)):
            if json.dumps(mine) != json.dumps(theirs):
                return f"{name}, event {position}:\npatched  {json.dumps(mine)}\nreleased {json.dumps(theirs)}"
    return None


def run_on(
    engine: LocalEngine,
    suite: Path,
    routes: dict[str, Behaviour],
    prepare: Callable[[LocalEngine], None],
) -> Validation:
    with TargetService(routes) as target:
        prepare(engine)
        return Validation(run_validation(engine, suite, target.url, timeout_seconds=90), target.url)


def run_on_both(
    engines: Engines,
    directory: Path,
    document: dict[str, Any],
    routes: dict[str, Behaviour],
    prepare: Callable[[LocalEngine], None] = lambda engine: None,
) -> tuple[Validation, Validation]:
    """The same validation on each engine at once, each against a target of its own (whose routes start afresh)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        patched, released = (
            pool.submit(run_on, engine, write_suite(directory, document, f"{name}.yaml"), routes, prepare)
            for name, engine in (("patched", engines.patched), ("released", engines.released))
        )
        return patched.result(), released.result()


def assert_same_workflow(patched: Validation, released: Validation) -> None:
    mine, theirs = patched.outcome, released.outcome
    assert (mine.reported_status, mine.execution_status) == (theirs.reported_status, theirs.execution_status)
    assert len(mine.history) == len(theirs.history)
    difference = first_difference(lanes(patched), lanes(released))
    assert difference is None, difference


def passing_routes(count: int) -> tuple[dict[str, Any], dict[str, Behaviour]]:
    document = suite_document(
        stage("load", *[route(f"r{i}", f"/r/{i}") for i in range(count)], rounds=ROUNDS), maxConcurrency=10
    )
    return document, {f"/r/{i}": Behaviour() for i in range(count)}


@pytest.mark.parametrize("count", [1, 10, 50])
def test_the_bench_validation_leaves_the_same_history_with_and_without_the_patches(
    engines: Engines, tmp_path: Path, count: int
) -> None:
    # Given the bench's suite: `count` routes of an instant service, 3 rounds, no waits
    document, routes = passing_routes(count)

    # When it runs on moto with the patches and on moto as released
    patched, released = run_on_both(engines, tmp_path, document, routes)

    # Then both pass, with the same history event for event
    assert released.outcome.reported_status == "Succeeded"
    assert len(released.outcome.history) > count * ROUNDS * 10
    assert_same_workflow(patched, released)


def test_retries_and_a_failed_stage_leave_the_same_history(engines: Engines, tmp_path: Path) -> None:
    # Given routes that pass, two that fail once and pass on their retry, and one that always fails,
    # in a stage of 3 rounds that tolerates one failed probe
    routes = {f"/r/{i}": Behaviour() for i in range(6)}
    routes |= {"/flaky/0": Behaviour(failures_before_success=1), "/flaky/1": Behaviour(failures_before_success=1)}
    routes["/broken"] = Behaviour(status=500)
    checks = [route(f"r{i}", f"/r/{i}") for i in range(6)]
    checks += [route("flaky-0", "/flaky/0"), route("flaky-1", "/flaky/1"), route("broken", "/broken")]
    document = suite_document(stage("soak", *checks, rounds=ROUNDS, maxFailedProbes=1), retry=NO_WAIT_RETRY)

    # When it runs on both engines
    patched, released = run_on_both(engines, tmp_path, document, routes)

    # Then both retried, failed fast in the second round, and left the same history
    assert released.outcome.reported_status == "Failed"
    assert [len(results) for results in released.outcome.rounds] == [9, 9]
    assert_same_workflow(patched, released)


def test_metric_checks_leave_the_same_history(engines: Engines, tmp_path: Path) -> None:
    # Given the same traffic recorded in each engine's CloudWatch: 1000 requests, 34 of them 5xx
    target_group = new_target_group()

    def seed(engine: LocalEngine) -> None:
        seed_alb_traffic(engine, target_group, requests=1000, errors=34, response_seconds=[0.1, 0.2, 0.3])

    checks = [
        target_group_check("error-rate", target_group, errorRatePercent={"max": 1}),
        target_group_check("p99", target_group, latencyMs={"stat": "p99", "max": 800}),
    ]
    document = suite_document(stage("soak", route("health"), metrics=checks))

    # When a stage probes a route and reads both metrics, on both engines
    patched, released = run_on_both(engines, tmp_path, document, {"/health": Behaviour()}, prepare=seed)

    # Then the error rate failed it on both, with the same history
    assert released.outcome.reported_status == "Failed"
    assert_same_workflow(patched, released)


def test_a_crashing_probe_function_leaves_the_same_history(engines: Engines, tmp_path: Path) -> None:
    # Given a probe function that cannot start (its configuration is broken) on both engines
    def break_probe(engine: LocalEngine) -> None:
        engine.configure_function(engine.app.function("ProbeFunction").name, {"PROBE_BODY_CAP_BYTES": "not-a-number"})

    document = suite_document(stage("smoke", route("health"), route("orders")))

    # When the suite runs
    try:
        patched, released = run_on_both(
            engines, tmp_path, document, {"/health": Behaviour(), "/orders": Behaviour()}, prepare=break_probe
        )
    finally:
        for engine in (engines.patched, engines.released):
            engine.runtime.restore_configuration()

    # Then each crash was caught into a failed probe, the same way on both
    assert released.outcome.reported_status == "Failed"
    assert_same_workflow(patched, released)
