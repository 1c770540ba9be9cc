"""A validation's timeline, read from its execution history: when each check's attempts ran, and every wait.

The state names are the ones in statemachine/validation.asl.json. A Map iteration's events interleave with
the other iterations'; each one is matched to its check by the stage, round and check its own data carries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from tollgate.history import (
    PREPARE_ROUND,
    PROBE_ROUTE,
    READ_METRIC,
    RECORD_PROBE_CRASH,
    RECORD_READING_CRASH,
    WAIT_BEFORE_NEXT_ROUND,
)
from tollgate_core.contracts import CheckKind, ProbeResult

WAIT_BEFORE_RETRY = "Wait before retry"
_ATTEMPT_STATES = (PROBE_ROUTE, READ_METRIC)
_CRASH_STATES = (RECORD_PROBE_CRASH, RECORD_READING_CRASH)
# Only these states' data is read: parsing every event's would cost more than the rest of the report.
_ENTERED_STATES = {*_ATTEMPT_STATES, WAIT_BEFORE_RETRY, WAIT_BEFORE_NEXT_ROUND}
_EXITED_STATES = {*_ATTEMPT_STATES, *_CRASH_STATES, WAIT_BEFORE_RETRY, WAIT_BEFORE_NEXT_ROUND, PREPARE_ROUND}


@dataclass
class Attempt:
    """One attempt of a route's probe, or a metric check's reading; times in seconds from the timeline's start."""

    stage: str
    round: int
    started: float
    ended: float | None = None  # None: the history ends before the attempt did
    result: ProbeResult | None = None


@dataclass(frozen=True)
class Wait:
    started: float
    ended: float | None
    stage: str
    round: int  # a retry's wait: the round it belongs to; a round's wait: the round it waits for
    seconds: float | None = None  # how long the workflow was told to wait, when the history says


@dataclass
class CheckRow:
    """A route or a metric check, with every attempt it made in every stage and round."""

    check: str
    kind: CheckKind
    attempts: list[Attempt] = field(default_factory=list)
    retry_waits: list[Wait] = field(default_factory=list)


@dataclass(frozen=True)
class RoundStart:
    stage: str
    round: int
    at: float


@dataclass(frozen=True)
class Timeline:
    started_at: datetime | None
    duration: float  # seconds from the first event to the last
    rows: list[CheckRow]
    round_waits: list[Wait]
    rounds: list[RoundStart]

    def stage_starts(self) -> list[RoundStart]:
        return [start for start in self.rounds if start.round == 1]


def event_time(event: Mapping[str, Any]) -> datetime:
    """A history event's timestamp: a datetime as boto3 gives it, or ISO 8601 text as JSON carries it."""
    value = event["timestamp"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class _Iteration(NamedTuple):
    """A Map iteration: one check in one round of one stage, in one of the history's executions."""

    execution: int
    stage: str
    round: int
    check: str


class _Reader:
    """Folds history events, in order, into a Timeline."""

    def __init__(self, started_at: datetime) -> None:
        self.started_at = started_at
        self.execution = 0
        self.rows: dict[str, CheckRow] = {}
        self.rounds: list[RoundStart] = []
        self.round_waits: list[Wait] = []
        self.open_round_wait: Wait | None = None
        self.open_attempts: dict[_Iteration, Attempt] = {}
        self.open_retry_waits: dict[_Iteration, Wait] = {}

    def read(self, event: Mapping[str, Any]) -> None:
        kind = event["type"]
        if kind == "ExecutionStarted":
            self.execution += 1
            return
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered is not None and entered["name"] in _ENTERED_STATES:
            self._entered(entered["name"], _document(entered.get("input")), self._seconds(event))
        elif exited is not None and exited["name"] in _EXITED_STATES:
            self._exited(exited["name"], _document(exited.get("output")), self._seconds(event))

    def _seconds(self, event: Mapping[str, Any]) -> float:
        return (event_time(event) - self.started_at).total_seconds()

    def _entered(self, state: str, document: dict[str, Any], at: float) -> None:
        if state in _ATTEMPT_STATES and (key := self._key(document)):
            attempt = Attempt(document["stage"], document["round"], at)
            self.open_attempts[key] = attempt
            self._row(document["check"]).attempts.append(attempt)
        elif state == WAIT_BEFORE_RETRY and (key := self._key(document)):
            seconds = document.get("probe", {}).get("result", {}).get("retryInSeconds")
            self.open_retry_waits[key] = Wait(at, None, document["stage"], document["round"], seconds)
        elif state == WAIT_BEFORE_NEXT_ROUND:
            self.open_round_wait = _round_wait(document, at)

    def _exited(self, state: str, document: dict[str, Any], at: float) -> None:
        if state in _ATTEMPT_STATES and (key := self._key(document)) and key in self.open_attempts:
            attempt = self.open_attempts[key]
            attempt.ended = at
            result = document.get("probe", {}).get("result", {})
            if "ok" in result:  # after a caught crash, the result is the one `Record ... crash` makes next
                attempt.result = cast(ProbeResult, result)
        elif state in _CRASH_STATES and (key := self._key(document)) and key in self.open_attempts:
            self.open_attempts[key].result = cast(ProbeResult, document["probe"]["result"])
        elif state == WAIT_BEFORE_RETRY and (key := self._key(document)) and key in self.open_retry_waits:
            wait = self.open_retry_waits.pop(key)
            self._row(document["check"]).retry_waits.append(_ended(wait, at))
        elif state == WAIT_BEFORE_NEXT_ROUND and self.open_round_wait is not None:
            self.round_waits.append(_ended(self.open_round_wait, at))
            self.open_round_wait = None
        elif state == PREPARE_ROUND and (current := document.get("current")):
            self._round_started(current, at)

    def _round_started(self, current: Mapping[str, Any], at: float) -> None:
        stage = current["stage"]
        self.rounds.append(RoundStart(stage["name"], current["round"], at))
        for check in stage.get("checks", []):
            self._row(check)

    def _key(self, document: Mapping[str, Any]) -> _Iteration | None:
        """Which iteration an inner state's data belongs to; None when the history left the data out."""
        check = document.get("check")
        if not isinstance(check, dict) or "stage" not in document or "round" not in document:
            return None
        return _Iteration(self.execution, document["stage"], document["round"], check["name"])

    def _row(self, check: Mapping[str, Any]) -> CheckRow:
        name = check["name"]
        if name not in self.rows:
            self.rows[name] = CheckRow(name, CheckKind(check.get("kind", CheckKind.ROUTE)))
        return self.rows[name]

    def timeline(self, duration: float) -> Timeline:
        """The timeline so far: a wait the history does not see end is open (ended None)."""
        waits = self.round_waits + ([self.open_round_wait] if self.open_round_wait else [])
        for iteration, wait in self.open_retry_waits.items():
            self.rows[iteration.check].retry_waits.append(wait)
        return Timeline(self.started_at, duration, list(self.rows.values()), waits, self.rounds)


def timeline_of(history: Sequence[Mapping[str, Any]]) -> Timeline:
    """The timeline of the executions in `history` (several for an ECS deployment that validated each step)."""
    if not history:
        return Timeline(None, 0.0, [], [], [])
    started_at = event_time(history[0])
    reader = _Reader(started_at)
    for event in history:
        reader.read(event)
    return reader.timeline((event_time(history[-1]) - started_at).total_seconds())


def checks_in_order(timeline: Timeline, names: Iterable[str]) -> list[CheckRow]:
    """The timeline's rows in the order `names` gives (a report's), then any row the names leave out."""
    rows = {row.check: row for row in timeline.rows}
    ordered = [rows.pop(name) for name in dict.fromkeys(names) if name in rows]
    return ordered + list(rows.values())


def _round_wait(document: Mapping[str, Any], at: float) -> Wait:
    progress = document.get("validation", {}).get("progress", {})
    stages = document.get("suite", {}).get("stages", [])
    index = progress.get("stageIndex", 0)
    stage = stages[index]["name"] if 0 <= index < len(stages) else ""
    return Wait(at, None, stage, int(progress.get("round", 0)), progress.get("waitSeconds"))


def _ended(wait: Wait, at: float) -> Wait:
    return Wait(wait.started, at, wait.stage, wait.round, wait.seconds)


def _document(text: str | None) -> dict[str, Any]:
    """A state's input or output as the history records it (JSON text); empty when the history left it out."""
    if not text:
        return {}
    try:
        document = json.loads(text)
    except ValueError:  # Step Functions truncates data over its size limit: the text is then no JSON
        return {}
    return document if isinstance(document, dict) else {}
