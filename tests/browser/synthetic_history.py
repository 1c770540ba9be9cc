"""A validation's execution history and report made up event by event, shaped as Step Functions records them.

For reports of a size no test should wait for (200 routes x 10 rounds), and for small, exact ones in unit tests.
The events, their names and their data are those of a real history of statemachine/validation.asl.json on the
embedded engine: the same state names, the same documents in `input` and `output`, iterations interleaved.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate.report import ProbeRow, RunReport, StageReport, deployment_resolution
from tollgate_core.contracts import CheckKind, Controller, HookStatus, StageStatus

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:tollgate-validation:AfterAllowTestTraffic-0123abcd"
STARTED_AT = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)
BASE_URL = "https://green.shop.example"
TARGET: dict[str, Any] = {"headers": {}, "timeoutSeconds": 2, "verifyTls": True, "baseUrl": BASE_URL}
DEPLOYMENT = {
    "deploymentId": "d-SYNTH3TIC",
    "lifecycleEventHookExecutionId": "eyJzeW50aGV0aWMiOiJob29rIn0",
    "lifecycleEvent": "AfterAllowTestTraffic",
    "controller": "CodeDeploy",
}
MAX_ATTEMPTS = 3
RETRY = {"maxAttempts": MAX_ATTEMPTS, "intervalSeconds": 1, "backoffRate": 2.0}


@dataclass(frozen=True)
class Reading:
    """What one attempt of a check saw."""

    ok: bool
    status_code: int | None = 200
    latency_ms: float | None = 12.0
    reason: str | None = None
    value: float | None = None
    crash: str | None = None  # the function's error: it crashed, and the workflow recorded a failed attempt


# (stage, check, round) -> its attempts in order; a failed attempt before the last is retried
Outcomes = Callable[[str, str, int], list[Reading]]


def always_passing(stage: str, check: str, round_number: int) -> list[Reading]:
    return [Reading(ok=True)]


@dataclass(frozen=True)
class StageSpec:
    name: str
    routes: list[str]
    rounds: int = 1
    interval_seconds: int = 0
    metrics: list[str] = field(default_factory=list)
    max_failed_probes: int = 0


@dataclass
class SyntheticValidation:
    report: RunReport
    history: list[dict[str, Any]]


def route_check(name: str) -> dict[str, Any]:
    return {
        "kind": "route",
        "method": "GET",
        "headers": {},
        "body": None,
        "followRedirects": False,
        "allowRedirectHosts": [],
        "name": name,
        "path": f"/{name}",
        "retry": RETRY,
        "expect": {"status": ["2xx"]},
    }


def metric_check(name: str) -> dict[str, Any]:
    return {
        "kind": "metric",
        "name": name,
        "measure": "errorRatePercent",
        "lookbackSeconds": 300,
        "noData": "fail",
        "threshold": {"max": 1},
        "alb": {"loadBalancer": "app/shop/50dc6c495c0c9188", "targetGroup": "targetgroup/shop-green/73e2d6bc24d8a067"},
        "minRequests": 1,
    }


class _History:
    """Events with their times; ids and previousEventId chains are given once they are put in order."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, dict[str, Any], int | None]] = []  # (at, order, event, previous order)

    def add(self, at: float, kind: str, previous: int | None, **details: Any) -> int:
        order = len(self.events)
        self.events.append((at, order, {"type": kind, **details}, previous))
        return order

    def state(self, at: float, kind: str, name: str, previous: int | None, document: Any, entered: bool) -> int:
        data = json.dumps(document, separators=(",", ":"))
        if entered:
            details = {"stateEnteredEventDetails": {"name": name, "input": data, "inputDetails": {"truncated": False}}}
        else:
            details = {"stateExitedEventDetails": {"name": name, "output": data, "outputDetails": {"truncated": False}}}
        return self.add(at, f"{kind}State{'Entered' if entered else 'Exited'}", previous, **details)

    def in_order(self) -> list[dict[str, Any]]:
        ordered = sorted(self.events, key=lambda item: (item[0], item[1]))
        ids = {order: index + 1 for index, (_, order, _, _) in enumerate(ordered)}
        return [
            {
                "timestamp": STARTED_AT + timedelta(seconds=at),
                **{key: value for key, value in event.items() if key == "type"},
                "id": ids[order],
                "previousEventId": ids[previous] if previous is not None else 0,
                **{key: value for key, value in event.items() if key != "type"},
            }
            for at, order, event, previous in ordered
        ]


def synthetic_validation(
    stages: list[StageSpec],
    outcomes: Outcomes = always_passing,
    *,
    seed: int = 0,
    dry_run: bool = False,
    deployment: dict[str, Any] = DEPLOYMENT,
) -> SyntheticValidation:
    """A validation that ran these stages to the end (or to the first failed stage), as Step Functions records it."""
    recorder = _Recorder(stages, outcomes, random.Random(seed), dry_run, deployment)
    for index, spec in enumerate(stages):
        if not recorder.run_stage(index, spec):
            break
    return recorder.finish()


def suite_document(stages: list[StageSpec]) -> dict[str, Any]:
    """The normalized suite the execution input carries."""
    return {
        "version": 1,
        "target": TARGET,
        "retry": RETRY,
        "maxConcurrency": 40,
        "stages": [
            {
                "rounds": spec.rounds,
                "intervalSeconds": spec.interval_seconds,
                "maxFailedProbes": spec.max_failed_probes,
                "name": spec.name,
                "checks": [route_check(name) for name in spec.routes] + [metric_check(name) for name in spec.metrics],
            }
            for spec in stages
        ],
    }


class _Recorder:
    """Runs the workflow's top-level states in made-up time, recording their events and the report's rows."""

    def __init__(
        self,
        stages: list[StageSpec],
        outcomes: Outcomes,
        rng: random.Random,
        dry_run: bool,
        deployment: dict[str, Any],
    ) -> None:
        self.stages = stages
        self.dry_run = dry_run
        self.deployment = deployment
        self.outcomes = outcomes
        self.rng = rng
        self.suite = suite_document(stages)
        self.state: dict[str, Any] = {
            "deployment": deployment,
            "suite": self.suite,
            "validation": {"progress": {"stageIndex": 0, "round": 1, "next": "next-round", "waitSeconds": 0}},
            "error": None,
        }
        self.history = _History()
        self.step = self.history.add(
            0.0, "ExecutionStarted", None, executionStartedEventDetails={"input": json.dumps(self.state)}
        )
        self.at = 0.003
        self.rows: dict[str, list[ProbeRow]] = {}
        self.statuses: dict[str, StageStatus] = {}
        self.reason: str | None = None

    def run_stage(self, index: int, spec: StageSpec) -> bool:
        """Every round of the stage, until it passes (True) or fails (False)."""
        failed = 0
        for round_number in range(1, spec.rounds + 1):
            results = self.run_round(index, spec, round_number)
            failed += sum(1 for result in results if not result["ok"])
            self.tally()
            if failed > spec.max_failed_probes:
                worst = next(result for result in results if not result["ok"])
                self.statuses[spec.name] = StageStatus.FAILED
                self.reason = (
                    f"stage '{spec.name}': {failed} failed probes, budget {spec.max_failed_probes}; "
                    f"{worst['route']} (round {round_number}): {worst['reason']}"
                )
                return False
            if round_number < spec.rounds:
                self.wait_for_round(index, round_number + 1, spec.interval_seconds)
        self.statuses[spec.name] = StageStatus.PASSED
        return True

    def run_round(self, index: int, spec: StageSpec, round_number: int) -> list[dict[str, Any]]:
        history, stage_document = self.history, self.suite["stages"][index]
        self.state["validation"]["progress"] = {"stageIndex": index, "round": round_number, "waitSeconds": 0}
        current = {"stage": stage_document, "round": round_number, "target": TARGET, "maxConcurrency": 40}
        self.step = history.state(self.at, "Pass", "Prepare round", self.step, self.state, entered=True)
        self.at += 0.004
        self.step = history.state(
            self.at, "Pass", "Prepare round", self.step, {**self.state, "current": current}, entered=False
        )
        self.step = history.state(
            self.at, "Map", "Run checks", self.step, {**self.state, "current": current}, entered=True
        )
        self.at += 0.002
        map_started = history.add(self.at, "MapStateStarted", self.step, mapStateStartedEventDetails={"length": 0})
        ends, results = [], []
        for position, check in enumerate(stage_document["checks"]):
            iteration = _Iteration(history, map_started, position, spec.name, round_number, check)
            ends.append(iteration.run(self.at + 0.003 * position, self.outcomes, self.rng))
            results.append(iteration.result)
            self.rows.setdefault(spec.name, []).append(_row(iteration.result, check["kind"]))
        last_end, last_event = max(ends) if ends else (self.at, map_started)
        self.at = last_end + 0.002
        history.add(self.at, "MapStateSucceeded", last_event)
        self.step = history.state(
            self.at, "Map", "Run checks", last_event, {**self.state, "roundResults": results}, entered=False
        )
        return results

    def tally(self) -> None:
        for name in ("Tally round", "Next step?"):
            kind = "Task" if name == "Tally round" else "Choice"
            self.step = self.history.state(self.at, kind, name, self.step, self.state, entered=True)
            self.at += 0.015
            self.step = self.history.state(self.at, kind, name, self.step, self.state, entered=False)

    def wait_for_round(self, index: int, round_number: int, seconds: int) -> None:
        self.state["validation"]["progress"] = {"stageIndex": index, "round": round_number, "waitSeconds": seconds}
        self.step = self.history.state(self.at, "Wait", "Wait before next round", self.step, self.state, entered=True)
        self.at += seconds
        self.step = self.history.state(self.at, "Wait", "Wait before next round", self.step, self.state, entered=False)

    def finish(self) -> SyntheticValidation:
        status = HookStatus.FAILED if self.reason else HookStatus.SUCCEEDED
        summary = {"status": status, "reason": self.reason, "deployment": self.deployment}
        self.step = self.history.state(self.at, "Task", "Report to CodeDeploy", self.step, self.state, entered=True)
        self.at += 0.05
        self.step = self.history.state(self.at, "Task", "Report to CodeDeploy", self.step, summary, entered=False)
        self.history.add(
            self.at, "ExecutionSucceeded", self.step, executionSucceededEventDetails={"output": json.dumps(summary)}
        )
        report: RunReport = {
            "controller": Controller.CODEDEPLOY,
            "dryRun": self.dry_run,
            "status": status,
            "reportedStatus": HookStatus.SUCCEEDED if self.dry_run else status,
            "executionArn": EXECUTION_ARN,
            "durationSeconds": round(self.at + 0.2, 3),
            "reason": self.reason,
            "target": {"baseUrl": BASE_URL, "verifyTls": True},
            **deployment_resolution(self.deployment),
            "stages": [_stage_report(spec, self.statuses, self.rows) for spec in self.stages],
        }
        return SyntheticValidation(report, self.history.in_order())


def _stage_report(spec: StageSpec, statuses: dict[str, StageStatus], rows: dict[str, list[ProbeRow]]) -> StageReport:
    return {
        "name": spec.name,
        "status": statuses.get(spec.name, StageStatus.SKIPPED),
        "probes": rows.get(spec.name, []),
    }


class _Iteration:
    """One Map iteration: its check's attempts, and its retries' waits."""

    def __init__(
        self, history: _History, map_started: int, index: int, stage: str, round_number: int, check: dict[str, Any]
    ) -> None:
        self.history = history
        self.map_started = map_started
        self.index = index
        self.check = check
        self.document: dict[str, Any] = {
            "stage": stage,
            "round": round_number,
            "check": check,
            "target": TARGET,
            "probe": {"result": {"attempts": 0}},
        }
        self.result: dict[str, Any] = {}

    def run(self, at: float, outcomes: Outcomes, rng: random.Random) -> tuple[float, int]:
        """Records the iteration from `at`; returns when it ended and its last event."""
        history, details = self.history, {"name": "Run checks", "index": self.index}
        step = history.add(at, "MapIterationStarted", self.map_started, mapIterationStartedEventDetails=details)
        step = history.state(at, "Choice", "Route or metric?", step, self.document, entered=True)
        step = history.state(at, "Choice", "Route or metric?", step, self.document, entered=False)
        metric = self.check["kind"] == "metric"
        readings = outcomes(self.document["stage"], self.check["name"], self.document["round"])
        for attempt, reading in enumerate(readings[: 1 if metric else MAX_ATTEMPTS], start=1):
            final = metric or reading.ok or reading.crash is not None or attempt == min(len(readings), MAX_ATTEMPTS)
            at, step = self._attempt(at, step, attempt, reading, final, rng)
            if final:
                break
        step = history.state(at, "Succeed", "Probe finished", step, self.document, entered=True)
        step = history.state(at, "Succeed", "Probe finished", step, self.result, entered=False)
        return at, history.add(at, "MapIterationSucceeded", step, mapIterationSucceededEventDetails=details)

    def _attempt(
        self, at: float, step: int, attempt: int, reading: Reading, final: bool, rng: random.Random
    ) -> tuple[float, int]:
        history, metric = self.history, self.check["kind"] == "metric"
        task = "Read metric" if metric else "Probe route"
        self.result = {
            "stage": self.document["stage"],
            "route": self.check["name"],
            "round": self.document["round"],
            "attempts": attempt,
            "ok": reading.ok,
            "statusCode": None if metric else reading.status_code,
            "latencyMs": None if metric else reading.latency_ms,
            "reason": reading.reason,
            "final": final,
            "retryInSeconds": 0 if final else 1,
            **({"value": reading.value} if metric else {}),
        }
        step = history.state(at, "Task", task, step, self.document, entered=True)
        step = history.add(at + 0.001, "TaskScheduled", step, taskScheduledEventDetails={"resourceType": "lambda"})
        step = history.add(at + 0.001, "TaskStarted", step, taskStartedEventDetails={"resourceType": "lambda"})
        at += 0.02 + (reading.latency_ms or 30.0) / 1000 + rng.uniform(0, 0.01)
        if reading.crash is not None:
            return self._crashed(at, step, reading.crash, "Record reading crash" if metric else "Record probe crash")
        output = json.dumps({"StatusCode": 200, "Payload": self.result})
        succeeded = {"resourceType": "lambda", "output": output}
        step = history.add(at, "TaskSucceeded", step, taskSucceededEventDetails=succeeded)
        self.document = {**self.document, "probe": {"result": self.result}}
        step = history.state(at, "Task", task, step, self.document, entered=False)
        if metric:
            return at, step
        step = history.state(at, "Choice", "Passed or out of attempts?", step, self.document, entered=True)
        step = history.state(at, "Choice", "Passed or out of attempts?", step, self.document, entered=False)
        if not final:
            step = history.state(at, "Wait", "Wait before retry", step, self.document, entered=True)
            at += 1.0
            step = history.state(at, "Wait", "Wait before retry", step, self.document, entered=False)
        return at, step

    def _crashed(self, at: float, step: int, error: str, record: str) -> tuple[float, int]:
        """The task failed: its Catch keeps the previous attempt's count, and `record` makes the failed result."""
        history, task = self.history, "Read metric" if self.check["kind"] == "metric" else "Probe route"
        step = history.add(at, "TaskFailed", step, taskFailedEventDetails={"resourceType": "lambda", "error": error})
        caught = {**self.document, "crash": {"Error": error, "Cause": "{}"}}
        step = history.state(at, "Task", task, step, caught, entered=False)
        step = history.state(at, "Pass", record, step, caught, entered=True)
        function = "metric reader" if self.check["kind"] == "metric" else "probe function"
        self.result = {
            **self.result,
            "ok": False,
            "statusCode": None,
            "latencyMs": None,
            "reason": f"{function} failed: {error}",
            "final": True,
            "retryInSeconds": 0,
        }
        self.document = {**caught, "probe": {"result": self.result}}
        return at, history.state(at, "Pass", record, step, self.document, entered=False)


def _row(result: dict[str, Any], kind: str) -> ProbeRow:
    return {
        "route": result["route"],
        "kind": CheckKind(kind),
        "round": result["round"],
        "attempts": result["attempts"],
        "ok": result["ok"],
        "statusCode": result["statusCode"],
        "latencyMs": result["latencyMs"],
        "value": result.get("value"),
        "reason": result["reason"],
    }


def failing_validation() -> SyntheticValidation:
    """Smoke passes, `flaky` on its second attempt; soak's `orders` keeps failing and its error rate is too high,
    and the stage runs out of its budget of 3 failed probes in its second round."""

    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        if check == "flaky":
            return [Reading(ok=False, status_code=503, reason="status 503, expected 2xx"), Reading(ok=True)]
        if check == "orders":
            return [Reading(ok=False, status_code=500, reason="status 500, expected 2xx")] * 2
        if check == "error-rate":
            return [Reading(ok=False, value=3.4, reason="5xx rate 3.4% over max 1%")]
        return [Reading(ok=True)]

    stages = [
        StageSpec("smoke", ["health", "flaky"]),
        StageSpec(
            "soak", ["health", "orders"], rounds=2, interval_seconds=5, metrics=["error-rate"], max_failed_probes=3
        ),
    ]
    return synthetic_validation(stages, outcomes)


def large_validation(routes: int = 200, rounds: int = 10) -> SyntheticValidation:
    """A soak of `routes` routes and an error-rate check over `rounds` rounds, 5 s apart, after a one-route smoke;
    every 53rd probe fails once and passes on its retry."""

    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        if check == "error-rate":
            return [Reading(ok=True, value=0.2)]
        number = int(check.rsplit("-", 1)[-1]) if check.startswith("route-") else 0
        latency = 5.0 + (number * 13 + round_number * 7) % 40
        if (number * 7 + round_number) % 53 == 0:
            return [Reading(ok=False, status_code=503, reason="status 503, expected 2xx"), Reading(ok=True)]
        return [Reading(ok=True, latency_ms=latency)]

    soak = StageSpec(
        "soak",
        [f"route-{number:03d}" for number in range(routes)],
        rounds=rounds,
        interval_seconds=5,
        metrics=["error-rate"],
        max_failed_probes=routes,
    )
    return synthetic_validation([StageSpec("smoke", ["health"]), soak], outcomes)
