"""One reading of a metric check: its window, its GetMetricData queries, and the judgement of what they return."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tollgate_core.contracts import (
    MetricCheck,
    MetricDataQuery,
    MetricDimension,
    MetricMeasure,
    MetricThreshold,
    NoDataPolicy,
    ProbeResult,
    TargetGroupMetrics,
)
from tollgate_core.event_fields import MalformedEvent, field_of, object_of, typed_field
from tollgate_core.expectations import join_reasons
from tollgate_core.metric_checks import CURRENT_MINUTE_SECONDS

ALB_NAMESPACE = "AWS/ApplicationELB"

Clock = Callable[[], datetime]


class AlbMetric(StrEnum):
    """The target group metrics the ALB measures read, by their CloudWatch names."""

    REQUESTS = "RequestCount"
    TARGET_5XX = "HTTPCode_Target_5XX_Count"
    RESPONSE_TIME = "TargetResponseTime"  # in seconds


# The Ids of the ALB measures' queries: GetMetricData wants them to start with a lowercase letter.
REQUESTS_ID = "requests"
ERRORS_ID = "errors"
LATENCY_ID = "latency"


class MetricReadFailed(Exception):
    """The metrics could not be read; the message is the reason the check fails."""


@dataclass(frozen=True)
class Datapoint:
    timestamp: datetime
    value: float


@dataclass(frozen=True)
class MetricSeries:
    """What one query returned over the window: its label and its datapoints, in no particular order."""

    label: str
    datapoints: tuple[Datapoint, ...]

    def total(self) -> float:
        return sum(point.value for point in self.datapoints)


class MetricSource(Protocol):
    """Reads metric data; adapters implement it for CloudWatch, fakes for tests."""

    def read(self, queries: Sequence[MetricDataQuery], start: datetime, end: datetime) -> Mapping[str, MetricSeries]:
        """Every series the queries return, by query Id; raises MetricReadFailed with the reason it cannot."""
        ...


@dataclass(frozen=True)
class MetricWindow:
    """The span a reading covers: whole minutes, up to and including the current one."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Judgement:
    """What a reading says about its check: passed or not, the measured value, and why."""

    ok: bool
    value: float | None
    reason: str | None

    @classmethod
    def failed(cls, reason: str, value: float | None = None) -> Judgement:
        return cls(False, value, reason)


@dataclass(frozen=True)
class MetricReadingRequest:
    """What the workflow asks of the metric reader: one metric check in one round."""

    stage: str
    round: int
    check: MetricCheck

    @classmethod
    def from_event(cls, event: Any) -> MetricReadingRequest:
        document = object_of(event, "(event)")
        return cls(
            stage=typed_field(document, "stage", str),
            round=typed_field(document, "round", int),
            check=_metric_check(field_of(document, "metric")),
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def read_metric_event(event: Any, source: MetricSource, clock: Clock = utc_now) -> ProbeResult:
    """The metric reader's answer to any event: a reading, or a failed one naming the bad field."""
    try:
        request = MetricReadingRequest.from_event(event)
    except MalformedEvent as malformed:
        return malformed_event_result(event, str(malformed))
    return read_metric(request, source, clock)


def read_metric(request: MetricReadingRequest, source: MetricSource, clock: Clock = utc_now) -> ProbeResult:
    """Read the check's window and judge it; a source that cannot read fails the check, never passes it."""
    check = request.check
    window = metric_window(clock(), check["lookbackSeconds"])
    try:
        series = source.read(metric_queries(check), window.start, window.end)
    except MetricReadFailed as failure:
        return reading_result(request, Judgement.failed(str(failure)))
    return reading_result(request, judge(check, series))


def metric_window(now: datetime, lookback_seconds: int) -> MetricWindow:
    """The whole minutes of the last `lookback_seconds` before the current minute, and the current minute so far.

    Datapoints are per minute, so a window ending at the current minute's start would miss what happened in
    it, and one starting `lookback_seconds` before the next minute would hold as little as a few seconds.
    """
    current_minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    end = current_minute + timedelta(seconds=CURRENT_MINUTE_SECONDS)
    return MetricWindow(current_minute - timedelta(seconds=lookback_seconds), end)


def metric_queries(check: MetricCheck) -> list[MetricDataQuery]:
    """The GetMetricData queries that read a check; the ALB measures read the window as one period."""
    if check["measure"] == MetricMeasure.QUERY:
        return list(check["query"])
    queries = [_alb_query(REQUESTS_ID, check, AlbMetric.REQUESTS, "Sum")]
    if check["measure"] == MetricMeasure.ERROR_RATE:
        return [*queries, _alb_query(ERRORS_ID, check, AlbMetric.TARGET_5XX, "Sum")]
    return [*queries, _alb_query(LATENCY_ID, check, AlbMetric.RESPONSE_TIME, check["stat"])]


def judge(check: MetricCheck, series: Mapping[str, MetricSeries]) -> Judgement:
    """Compare what the queries returned with the check's threshold, minimum traffic and no-data policy."""
    if check["measure"] == MetricMeasure.ERROR_RATE:
        return _judge_error_rate(check, series)
    if check["measure"] == MetricMeasure.LATENCY:
        return _judge_latency(check, series)
    return _judge_query(check, series)


def reading_result(request: MetricReadingRequest, judgement: Judgement) -> ProbeResult:
    """A reading is one attempt and final: the next round reads the window again, a retry would not."""
    return {
        "stage": request.stage,
        "route": request.check["name"],
        "round": request.round,
        "attempts": 1,
        "ok": judgement.ok,
        "statusCode": None,
        "latencyMs": None,
        "reason": join_reasons([judgement.reason] if judgement.reason else []),
        "final": True,
        "retryInSeconds": 0,
        "value": judgement.value,
    }


def malformed_event_result(event: Any, problem: str) -> ProbeResult:
    """A failed, final reading: the same event cannot do better. Names what it can read of the event."""
    document = event if isinstance(event, dict) else {}
    metric = document.get("metric")
    return {
        "stage": str(document.get("stage", "?")),
        "route": str(metric.get("name", "?")) if isinstance(metric, dict) else "?",
        "round": document["round"] if _is_int(document.get("round")) else 0,
        "attempts": 1,
        "ok": False,
        "statusCode": None,
        "latencyMs": None,
        "reason": join_reasons([f"malformed metric event: {problem}"]),
        "final": True,
        "retryInSeconds": 0,
        "value": None,
    }


def readable(number: float) -> str:
    """A number as a person writes it: 3, 3.4, 912.46, 0.004; never 3.0 or 1e-05."""
    if number == round(number):
        return str(round(number))
    # Two decimals, or two significant digits for values under one.
    places = max(2, 1 - math.floor(math.log10(abs(number))))
    return f"{number:.{places}f}".rstrip("0").rstrip(".")


# --- the measures --------------------------------------------------------------------------------------


def _judge_error_rate(check: MetricCheck, series: Mapping[str, MetricSeries]) -> Judgement:
    requests = _series(series, REQUESTS_ID).total()
    shortfall = _traffic_shortfall(check, requests)
    if shortfall:
        return shortfall
    # ALB publishes no 5xx datapoint for a minute without 5xx responses: no data here means none happened.
    errors = _series(series, ERRORS_ID).total()
    rate = 100 * errors / requests
    breach = _breach(rate, check["threshold"], "%")
    if breach is None:
        return Judgement(True, rate, None)
    window = f"{readable(errors)} of {_requests(requests)}, last {check['lookbackSeconds']} s"
    return Judgement.failed(f"5xx rate {readable(rate)}% {breach} ({window})", rate)


def _judge_latency(check: MetricCheck, series: Mapping[str, MetricSeries]) -> Judgement:
    requests = _series(series, REQUESTS_ID).total()
    shortfall = _traffic_shortfall(check, requests)
    if shortfall:
        return shortfall
    seconds = _series(series, LATENCY_ID).datapoints
    if not seconds:
        return _no_data(check, "no latency data")
    milliseconds = tuple(Datapoint(point.timestamp, point.value * 1000) for point in seconds)
    breaches, judged = _worst_breaches(milliseconds, check["threshold"], " ms")
    if not breaches:
        return Judgement(True, judged.value, None)
    measured = " and ".join(f"{readable(point.value)} ms {breach}" for point, breach in breaches)
    context = f"{_requests(requests)}, last {check['lookbackSeconds']} s"
    return Judgement.failed(f"{check['stat']} latency {measured} ({context})", breaches[0][0].value)


def _judge_query(check: MetricCheck, series: Mapping[str, MetricSeries]) -> Judgement:
    query = _returning_query(check["query"])
    result = _series(series, query["Id"])
    if not result.datapoints:
        return _no_data(check, "no data")
    breaches, judged = _worst_breaches(result.datapoints, check["threshold"])
    if not breaches:
        return Judgement(True, judged.value, None)
    measured = " and ".join(
        f"{readable(point.value)} {breach} at {point.timestamp.astimezone(UTC):%H:%M} UTC" for point, breach in breaches
    )
    worst = f"worst of {len(result.datapoints)} datapoints" if len(result.datapoints) > 1 else "the only datapoint"
    context = f"{worst}, last {check['lookbackSeconds']} s"
    return Judgement.failed(f"{_series_name(query, result)} {measured} ({context})", breaches[0][0].value)


def _traffic_shortfall(check: MetricCheck, requests: float) -> Judgement | None:
    """The judgement when the window saw too little traffic to judge a rate or a latency; None when enough."""
    if requests <= 0:
        return _no_data(check, "no requests")
    if requests < check["minRequests"]:
        return Judgement.failed(
            f"not enough traffic: {_requests(requests)} in the last {check['lookbackSeconds']} s, "
            f"minRequests {check['minRequests']}"
        )
    return None


def _requests(count: float) -> str:
    return f"{readable(count)} request{'' if count == 1 else 's'}"


def _no_data(check: MetricCheck, what: str) -> Judgement:
    """The check's own policy decides, and the reason says so even when it passes."""
    reason = f"{what} in the last {check['lookbackSeconds']} s"
    if check["noData"] == NoDataPolicy.PASS:
        return Judgement(True, None, f"{reason}; noData: pass")
    return Judgement.failed(reason)


def _breach(value: float, threshold: MetricThreshold, unit: str = "") -> str | None:
    """How the value leaves its bounds ("over max 1%"), or None when it keeps within them (bounds included)."""
    if "max" in threshold and value > threshold["max"]:
        return f"over max {readable(threshold['max'])}{unit}"
    if "min" in threshold and value < threshold["min"]:
        return f"under min {readable(threshold['min'])}{unit}"
    return None


def _worst_breaches(
    points: tuple[Datapoint, ...], threshold: MetricThreshold, unit: str = ""
) -> tuple[list[tuple[Datapoint, str]], Datapoint]:
    """The worst datapoints that break a bound, with how; and the datapoint the check reports when none does.

    The highest is held against a max, the lowest against a min; among equal values the latest counts.
    """
    latest_first = sorted(points, key=lambda point: point.timestamp, reverse=True)
    sides: list[tuple[Datapoint, MetricThreshold]] = []
    if "max" in threshold:
        sides.append((max(latest_first, key=lambda point: point.value), {"max": threshold["max"]}))
    if "min" in threshold:
        sides.append((min(latest_first, key=lambda point: point.value), {"min": threshold["min"]}))
    breaches = [(point, breach) for point, side in sides if (breach := _breach(point.value, side, unit))]
    return breaches, sides[0][0]


def _returning_query(queries: Sequence[MetricDataQuery]) -> MetricDataQuery:
    return next(query for query in queries if query.get("ReturnData", True))


def _series_name(query: MetricDataQuery, result: MetricSeries) -> str:
    """The user's label; else CloudWatch's (the metric's name for a metric) with the statistic it read."""
    if "Label" in query:
        return query["Label"]
    if "MetricStat" in query:
        return f"{result.label} {query['MetricStat']['Stat']}"
    return result.label


def _series(series: Mapping[str, MetricSeries], query_id: str) -> MetricSeries:
    return series.get(query_id) or MetricSeries(query_id, ())


def target_group_dimensions(alb: TargetGroupMetrics) -> list[MetricDimension]:
    """How CloudWatch names one ALB target group's metrics: the dimensions an ALB publishes them under."""
    return [
        {"Name": "LoadBalancer", "Value": alb["loadBalancer"]},
        {"Name": "TargetGroup", "Value": alb["targetGroup"]},
    ]


def _alb_query(query_id: str, check: MetricCheck, metric: AlbMetric, stat: str) -> MetricDataQuery:
    alb = check["alb"]
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": ALB_NAMESPACE,
                "MetricName": metric,
                "Dimensions": target_group_dimensions(alb),
            },
            # One period for the whole window: one datapoint per metric (more only if CloudWatch splits it).
            "Period": check["lookbackSeconds"] + CURRENT_MINUTE_SECONDS,
            "Stat": stat,
        },
        "ReturnData": True,
    }


# --- reading the event ---------------------------------------------------------------------------------
# The fields the reader uses, checked for the type it needs; the suite's validation guarantees the rest.

_NUMBER = (int, float)


def _metric_check(value: Any) -> MetricCheck:
    check = object_of(value, "metric")
    typed_field(check, "name", str, "metric.")
    measure = _choice(check, "measure", MetricMeasure, "metric.")
    _threshold(field_of(check, "threshold", "metric."))
    _lookback(check)
    _choice(check, "noData", NoDataPolicy, "metric.")
    if measure == MetricMeasure.QUERY:
        _queries(field_of(check, "query", "metric."))
    else:
        alb = object_of(field_of(check, "alb", "metric."), "metric.alb")
        typed_field(alb, "loadBalancer", str, "metric.alb.")
        typed_field(alb, "targetGroup", str, "metric.alb.")
        typed_field(check, "minRequests", int, "metric.")
    if measure == MetricMeasure.LATENCY:
        typed_field(check, "stat", str, "metric.")
    checked: MetricCheck = check  # type: ignore[assignment] # its fields were checked above
    return checked


def _threshold(value: Any) -> None:
    threshold = object_of(value, "metric.threshold")
    if "max" not in threshold and "min" not in threshold:
        raise MalformedEvent("metric.threshold: expected max, min or both")
    for bound in ("max", "min"):
        if bound in threshold:
            typed_field(threshold, bound, _NUMBER, "metric.threshold.")


def _lookback(check: dict[str, Any]) -> None:
    seconds = typed_field(check, "lookbackSeconds", int, "metric.")
    if seconds <= 0 or seconds % 60:
        raise MalformedEvent(f"metric.lookbackSeconds: expected a positive multiple of 60, got {seconds}")


def _queries(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise MalformedEvent(f"metric.query: expected a non-empty list, got {type(value).__name__}")
    returning = 0
    for index, entry in enumerate(value):
        prefix = f"metric.query[{index}]"
        query = object_of(entry, prefix)
        typed_field(query, "Id", str, f"{prefix}.")
        for name, kind in (("Label", str), ("ReturnData", bool)):
            if name in query:
                typed_field(query, name, kind, f"{prefix}.")
        if "MetricStat" in query:
            typed_field(object_of(query["MetricStat"], f"{prefix}.MetricStat"), "Stat", str, f"{prefix}.MetricStat.")
        returning += query.get("ReturnData", True)
    if returning != 1:
        raise MalformedEvent(f"metric.query: expected exactly one query that returns data, got {returning}")


def _choice(document: dict[str, Any], name: str, choices: type[StrEnum], prefix: str) -> StrEnum:
    value = field_of(document, name, prefix)
    if not isinstance(value, str) or value not in {choice.value for choice in choices}:
        allowed = ", ".join(choices)
        raise MalformedEvent(f"{prefix}{name}: expected one of {allowed}, got {value!r}")
    return choices(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
