"""Reading a validation's progress out of its execution history, as the Step Functions console shows it.

The state names are the ones in statemachine/validation.asl.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from tollgate_core.contracts import CheckIteration, ExecutionInput, ProbeResult, Progress, WorkflowState

PREPARE_ROUND = "Prepare round"
PROBE_ROUTE = "Probe route"
READ_METRIC = "Read metric"
RECORD_PROBE_CRASH = "Record probe crash"
RECORD_READING_CRASH = "Record reading crash"
RUN_CHECKS = "Run checks"
TALLY_ROUND = "Tally round"
WAIT_BEFORE_NEXT_ROUND = "Wait before next round"
# GetExecutionHistory's largest page (the default is 100): a long history in a few calls, not dozens.
HISTORY_PAGE_SIZE = 1000


@dataclass(frozen=True)
class StageStarted:
    stage: str


@dataclass(frozen=True)
class AttemptFinished:
    """One attempt of one probe: the live progress line."""

    result: ProbeResult


@dataclass(frozen=True)
class RoundFinished:
    """Every probe's final result in one round: the report's rows."""

    probes: list[ProbeResult]


@dataclass(frozen=True)
class WaitingForRound:
    seconds: int
    round: int


ProgressEvent = StageStarted | AttemptFinished | RoundFinished | WaitingForRound


def progress_events(history_event: dict[str, Any]) -> Iterator[ProgressEvent]:
    """The progress a single history event tells, if any."""
    kind = history_event["type"]
    details = history_event.get("stateExitedEventDetails") or history_event.get("stateEnteredEventDetails") or {}
    name = details.get("name")
    if kind == "PassStateExited" and name == PREPARE_ROUND:
        current = _workflow_state(details, "output").get("current")
        if current and current["round"] == 1:
            yield StageStarted(current["stage"]["name"])
    elif (kind, name) in (
        ("TaskStateExited", PROBE_ROUTE),
        ("TaskStateExited", READ_METRIC),
        ("PassStateExited", RECORD_PROBE_CRASH),
        ("PassStateExited", RECORD_READING_CRASH),
    ):
        iteration = cast(CheckIteration, json.loads(details.get("output") or "{}"))
        yield AttemptFinished(cast(ProbeResult, iteration["probe"]["result"]))
    elif kind == "MapStateExited" and name == RUN_CHECKS:
        yield RoundFinished(list(_workflow_state(details, "output").get("roundResults") or []))
    elif kind == "WaitStateEntered" and name == WAIT_BEFORE_NEXT_ROUND:
        progress = _workflow_state(details, "input")["validation"]["progress"]
        yield WaitingForRound(int(progress["waitSeconds"]), int(progress["round"]))


def latest_progress(history: list[dict[str, Any]]) -> Progress | None:
    """Where the validation stood after its last tally, or at its start: what a running validation has decided."""
    for history_event in reversed(history):
        details = history_event.get("stateExitedEventDetails") or {}
        if history_event["type"] == "TaskStateExited" and details.get("name") == TALLY_ROUND:
            return _workflow_state(details, "output")["validation"]["progress"]
        if history_event["type"] == "ExecutionStarted":
            started = cast(ExecutionInput, json.loads(history_event["executionStartedEventDetails"]["input"]))
            return started["validation"]["progress"]
    return None


def _workflow_state(details: dict[str, Any], key: str) -> WorkflowState:
    """A top-level state's input or output, as the history records it: JSON text."""
    return cast(WorkflowState, json.loads(details.get(key) or "{}"))


class HistoryFollower:
    """Yields the history events of one execution that were not yet seen."""

    def __init__(self, stepfunctions: Any, execution_arn: str) -> None:
        self._stepfunctions = stepfunctions
        self._execution_arn = execution_arn
        self._seen = 0

    def new_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        paginator = self._stepfunctions.get_paginator("get_execution_history")
        pages = paginator.paginate(
            executionArn=self._execution_arn,
            includeExecutionData=True,
            PaginationConfig={"PageSize": HISTORY_PAGE_SIZE},
        )
        for page in pages:
            events += page["events"]
        fresh = events[self._seen :]
        self._seen = len(events)
        return fresh
