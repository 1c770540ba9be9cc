"""The largest document a suite makes the workflow carry, against Step Functions' payload limit.

Step Functions fails an execution whose input, or any state's input or output, exceeds 256 KiB
(`States.DataLimitExceeded`). The top-level state is largest right after a round: the execution
input with its progress grown to every route's aggregate, plus the round's input and results.
"""

from __future__ import annotations

import json

from tollgate_core.contracts import (
    Controller,
    ExecutionInput,
    LatencyAggregate,
    ProbeResult,
    Progress,
    Route,
    RouteProgress,
    Stage,
    SuiteDocument,
    WorkflowState,
)
from tollgate_core.expectations import MAX_REASON_CHARS
from tollgate_core.progress import initial_progress

STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
# Worst cases for what the suite does not fix: ids CodeDeploy assigns, counts and reasons measured later.
_HOOK_EXECUTION_ID = "h" * 512
_DEPLOYMENT_ID = "d-" + "D" * 9
_LIFECYCLE_EVENT = "AfterAllowTestTraffic"
_REASON = "r" * MAX_REASON_CHARS
_MILLISECONDS = 60_000.0  # the longest a request may take: timeoutSeconds is at most 60


def payload_problems(document: SuiteDocument) -> list[str]:
    """A problem naming the size and what to reduce when a state would exceed the limit."""
    largest, stage = max((_state_bytes(document, stage), stage["name"]) for stage in document["stages"])
    if largest <= STATE_PAYLOAD_LIMIT_BYTES:
        return []
    return [
        f"(suite): the workflow would carry documents of up to {_kib(largest)} between states "
        f"(after a round of stage {stage!r}), over Step Functions' limit of {_kib(STATE_PAYLOAD_LIMIT_BYTES)}; "
        "use fewer routes or shorter ones (names, paths, headers, bodies, expectations)"
    ]


def _state_bytes(document: SuiteDocument, stage: Stage) -> int:
    state: WorkflowState = {
        **_execution_input(document),
        "current": {
            "stage": stage,
            "round": stage["rounds"],
            "target": document["target"],
            "maxConcurrency": document["maxConcurrency"],
        },
        "roundResults": [_probe_result(stage, route) for route in stage["routes"]],
    }
    return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


def _execution_input(document: SuiteDocument) -> ExecutionInput:
    return {
        "deployment": {
            "deploymentId": _DEPLOYMENT_ID,
            "lifecycleEventHookExecutionId": _HOOK_EXECUTION_ID,
            "lifecycleEvent": _LIFECYCLE_EVENT,
            "controller": Controller.CODEDEPLOY,
        },
        "suite": document,
        "validation": {"progress": _grown_progress(document)},
        "error": None,
    }


def _grown_progress(document: SuiteDocument) -> Progress:
    """The progress once every route of every stage has its aggregate and every count is large."""
    progress = initial_progress(document["stages"])
    for stage_progress, stage in zip(progress["stages"], document["stages"], strict=True):
        stage_progress["routes"] = [_route_progress(route, stage["rounds"]) for route in stage["routes"]]
        stage_progress["roundsRun"] = stage["rounds"]
        stage_progress["probes"] = stage_progress["failedProbes"] = stage["rounds"] * len(stage["routes"])
    return {**progress, "reason": _REASON * 2}


def _route_progress(route: Route, rounds: int) -> RouteProgress:
    attempts = rounds * route["retry"]["maxAttempts"]
    latency: LatencyAggregate = {
        "min": _MILLISECONDS,
        "max": _MILLISECONDS,
        "sum": _MILLISECONDS * attempts,
        "count": attempts,
    }
    return {
        "route": route["name"],
        "probes": rounds,
        "failed": rounds,
        "attempts": attempts,
        "latencyMs": latency,
        "lastReason": _REASON,
    }


def _probe_result(stage: Stage, route: Route) -> ProbeResult:
    return {
        "stage": stage["name"],
        "route": route["name"],
        "round": stage["rounds"],
        "attempts": route["retry"]["maxAttempts"],
        "ok": False,
        "statusCode": 599,
        "latencyMs": _MILLISECONDS,
        "reason": _REASON,
        "final": True,
        "retryInSeconds": 0,
    }


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KiB"
