"""CloudWatch's GetMetricData, answered over the datums PutMetricData stored, for the engine's own moto.

How each answer is made, with what CloudWatch documents and what had to be chosen:

- **Metric identity.** A metric is its namespace, its name and its exact set of dimensions: a query for
  {TargetGroup, LoadBalancer} does not see datums put with a third dimension. A query's Unit, when given,
  keeps only the datums put with that unit (a datum put without one has the unit "None").
- **Periods.** Bucket k covers [StartTime + k*Period, StartTime + (k+1)*Period) within [StartTime, EndTime),
  is stamped with its start, and is left out when it holds no data. ScanBy orders the datapoints,
  newest first by default (TimestampDescending), as CloudWatch does.
- **Statistics.** SampleCount, Sum, Average, Minimum and Maximum from raw values (put with Value, or
  Values with Counts as their weights) and statistic sets alike.
- **Percentiles** (pNN or pNN.NN, 0 < p <= 100) use the nearest rank: the smallest value of the period
  with at least p percent of the period's samples at or below it, i.e. the ceil(p/100 x n)-th smallest
  of n, never an interpolation ("p95 means 95 percent of the data in the period is below this value").
  CloudWatch needs raw values for them: a statistic set counts only when its SampleCount is 1 or its
  Minimum equals its Maximum (GetMetricStatistics' documentation); any other statistic set in the period,
  or any negative value ("percentile statistics are not available for metrics when any of the metric
  values are negative numbers"), leaves the period without a datapoint.
- **Metric math** (the subset tollgate_core.metric_math parses) runs over the other queries' datapoints
  aligned by timestamp. CloudWatch's metric math documentation: "Missing values in a time series are
  treated as 0. If the value of a data point causes a function to attempt to divide by zero, the data point
  is dropped." So series op series covers the timestamps of either side, and a division by zero drops
  that datapoint. FILL(x, n) gives a datapoint for every period of the request window, n where x has
  none: CloudWatch documents that in an alarm FILL replaces a latest period nobody published to, so it
  fills the window, not only where another series has data.
- **Labels.** CloudWatch's API reference says only that it "generates a default" when Label is omitted;
  the answers we know of carry the metric name for a metric and the Id for an expression, so this module
  does the same (not confirmed against an account: see docs/upstream-moto.md).

Anything else (other statistics, Metrics Insights queries, cross-account queries, other functions) is a
MetricDataError that names it, never an empty answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal, TypeAlias

from tollgate_core.metric_math import (
    QUERY_ID,
    Absolute,
    Arithmetic,
    Expression,
    Fill,
    Negation,
    Number,
    Operator,
    QueryRef,
    expression_problem,
    parse_expression,
)

BASIC_STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(?P<percent>\d{1,3}(?:\.\d{1,2})?)")
_HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)

ScanBy: TypeAlias = Literal["TimestampDescending", "TimestampAscending"]
_SCAN_ORDERS: dict[str, ScanBy] = {
    "TimestampDescending": "TimestampDescending",
    "TimestampAscending": "TimestampAscending",
}


class MetricDataError(ValueError):
    """A GetMetricData request CloudWatch would refuse, or one beyond what the engine answers; says which part."""


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class RawValue:
    """A value put with Value, or one of Values, put `count` times (its entry in Counts)."""

    value: float
    count: float = 1.0


@dataclass(frozen=True)
class StatisticSet:
    sample_count: float
    sum: float
    minimum: float
    maximum: float


Sample: TypeAlias = RawValue | StatisticSet


@dataclass(frozen=True)
class Datum:
    """One stored datum of PutMetricData."""

    metric: Metric
    timestamp: datetime
    sample: Sample
    unit: str = "None"


@dataclass(frozen=True)
class MetricStatQuery:
    id: str
    metric: Metric
    period_seconds: int
    stat: str
    unit: str | None = None
    label: str | None = None
    return_data: bool = True


@dataclass(frozen=True)
class ExpressionQuery:
    id: str
    expression: Expression
    label: str | None = None
    return_data: bool = True


Query: TypeAlias = MetricStatQuery | ExpressionQuery


@dataclass(frozen=True)
class MetricDataRequest:
    queries: tuple[Query, ...]
    start_time: datetime
    end_time: datetime
    scan_by: ScanBy = "TimestampDescending"


@dataclass(frozen=True)
class MetricDataResult:
    id: str
    label: str
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class _Series:
    points: Mapping[datetime, float]
    period_seconds: int


def as_utc(moment: datetime) -> datetime:
    """moto keeps some times naive: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_request(
    queries: Sequence[Mapping[str, Any]], start_time: datetime, end_time: datetime, scan_by: str
) -> MetricDataRequest:
    """GetMetricData's parameters, as the API names them, checked the way CloudWatch checks them."""
    start, end = as_utc(start_time), as_utc(end_time)
    if start >= end:
        raise MetricDataError("The parameter EndTime must be greater than StartTime.")
    scan_order = _SCAN_ORDERS.get(scan_by)
    if scan_order is None:
        raise MetricDataError(f"ScanBy must be TimestampDescending or TimestampAscending; got {scan_by!r}")
    if not queries:
        raise MetricDataError("MetricDataQueries must hold at least one query")
    ids = [_query_id(raw, number) for number, raw in enumerate(queries, start=1)]
    duplicates = sorted({query_id for query_id in ids if ids.count(query_id) > 1})
    if duplicates:
        raise MetricDataError(f"query Id '{duplicates[0]}' is used more than once; each Id must be unique")
    parsed = tuple(_parse_query(raw, query_id, ids) for raw, query_id in zip(queries, ids, strict=True))
    return MetricDataRequest(parsed, start, end, scan_order)


def _query_id(raw: Mapping[str, Any], number: int) -> str:
    query_id = raw.get("Id")
    if not isinstance(query_id, str) or not QUERY_ID.fullmatch(query_id):
        raise MetricDataError(
            f"MetricDataQueries member {number}: Id {query_id!r} must start with a lowercase letter"
            " and hold only letters, digits and underscores"
        )
    return query_id


def _parse_query(raw: Mapping[str, Any], query_id: str, known_ids: Sequence[str]) -> Query:
    if "AccountId" in raw:
        raise MetricDataError(f"query '{query_id}': cross-account queries (AccountId) are not served locally")
    has_stat, has_expression = "MetricStat" in raw, "Expression" in raw
    if has_stat == has_expression:
        which = "both" if has_stat else "neither"
        raise MetricDataError(f"query '{query_id}' gives {which} of MetricStat and Expression; give exactly one")
    label = raw.get("Label") or None
    return_data = _flag(raw.get("ReturnData", True))
    if has_stat:
        return _metric_stat_query(raw["MetricStat"], query_id, label, return_data)
    return ExpressionQuery(query_id, _expression(raw["Expression"], query_id, known_ids), label, return_data)


def _flag(value: object) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


def _metric_stat_query(stat: Mapping[str, Any], query_id: str, label: str | None, return_data: bool) -> MetricStatQuery:
    metric = stat.get("Metric") or {}
    if not metric.get("Namespace") or not metric.get("MetricName"):
        raise MetricDataError(f"query '{query_id}': MetricStat.Metric needs a Namespace and a MetricName")
    dimensions = metric.get("Dimensions") or []
    if any("Name" not in dimension or "Value" not in dimension for dimension in dimensions):
        raise MetricDataError(f"query '{query_id}': every dimension needs a Name and a Value")
    period = int(stat.get("Period") or 0)
    if period <= 0 or (period % 60 and period not in _HIGH_RESOLUTION_PERIODS):
        raise MetricDataError(
            f"query '{query_id}': Period must be 1, 5, 10, 20, 30, 60 or a multiple of 60; got {period}"
        )
    statistic_name = str(stat.get("Stat") or "")
    problem = statistic_problem(statistic_name)
    if problem:
        raise MetricDataError(f"query '{query_id}': {problem}")
    return MetricStatQuery(
        id=query_id,
        metric=Metric(
            metric["Namespace"],
            metric["MetricName"],
            frozenset((dimension["Name"], dimension["Value"]) for dimension in dimensions),
        ),
        period_seconds=period,
        stat=statistic_name,
        unit=stat.get("Unit") or None,
        label=label,
        return_data=return_data,
    )


def _expression(text: object, query_id: str, known_ids: Sequence[str]) -> Expression:
    if not isinstance(text, str):
        raise MetricDataError(f"query '{query_id}': Expression must be a string")
    if text.lstrip().upper().startswith("SELECT"):
        raise MetricDataError(f"query '{query_id}': Metrics Insights queries (SELECT ...) are not served locally")
    problem = expression_problem(text, known_ids)
    if problem:
        raise MetricDataError(f"query '{query_id}': {problem}")
    return parse_expression(text)


def statistic_problem(stat: str) -> str | None:
    """None for a statistic the engine computes; otherwise what it computes instead."""
    if stat in BASIC_STATISTICS:
        return None
    percentile = _PERCENTILE.fullmatch(stat)
    if percentile and 0 < Fraction(percentile["percent"]) <= 100:
        return None
    return (
        f"statistic {stat!r} is not served locally; the engine computes SampleCount, Sum, Average, Minimum,"
        " Maximum and percentiles pNN or pNN.NN above 0 and up to 100"
    )


def statistic(stat: str, samples: Sequence[Sample]) -> float | None:
    """One period's datapoint for `stat`, or None where CloudWatch gives the period no datapoint."""
    problem = statistic_problem(stat)
    if problem:
        raise MetricDataError(problem)
    percentile = _PERCENTILE.fullmatch(stat)
    if percentile:
        return _nearest_rank(Fraction(percentile["percent"]) / 100, samples)
    return _basic_statistic(stat, samples)


def _basic_statistic(stat: str, samples: Sequence[Sample]) -> float | None:
    raw = [sample for sample in samples if isinstance(sample, RawValue) and sample.count > 0]
    sets = [sample for sample in samples if isinstance(sample, StatisticSet) and sample.sample_count > 0]
    sample_count = sum(value.count for value in raw) + sum(summary.sample_count for summary in sets)
    if sample_count <= 0:
        return None
    total = sum(value.value * value.count for value in raw) + sum(summary.sum for summary in sets)
    if stat == "SampleCount":
        return sample_count
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / sample_count
    if stat == "Minimum":
        return min([value.value for value in raw] + [summary.minimum for summary in sets])
    return max([value.value for value in raw] + [summary.maximum for summary in sets])


def _nearest_rank(fraction: Fraction, samples: Sequence[Sample]) -> float | None:
    weighted: list[tuple[float, Fraction]] = []
    for sample in samples:
        if isinstance(sample, RawValue):
            weighted.append((sample.value, Fraction(sample.count)))
        elif sample.minimum == sample.maximum or sample.sample_count == 1:
            value = sample.minimum if sample.minimum == sample.maximum else sample.sum
            weighted.append((value, Fraction(sample.sample_count)))
        else:
            return None  # a statistic set hides its values
    weighted = sorted((value, weight) for value, weight in weighted if weight > 0)
    if not weighted or weighted[0][0] < 0:
        return None
    rank = fraction * sum(weight for _, weight in weighted)
    seen = Fraction(0)
    for value, weight in weighted:
        seen += weight
        if seen >= rank:
            return value
    return weighted[-1][0]


def get_metric_data(request: MetricDataRequest, datums: Iterable[Datum]) -> list[MetricDataResult]:
    """The results of the queries whose ReturnData is true, in the request's order."""
    evaluation = _Evaluation(request, datums)
    return [evaluation.result(query) for query in request.queries if query.return_data]


class _Evaluation:
    """One request's queries, each computed once: expressions read the series of the queries they name."""

    def __init__(self, request: MetricDataRequest, datums: Iterable[Datum]) -> None:
        self._request = request
        self._datums = [datum for datum in datums if request.start_time <= as_utc(datum.timestamp) < request.end_time]
        self._queries = {query.id: query for query in request.queries}
        self._series: dict[str, _Series] = {}
        self._in_progress: list[str] = []

    def result(self, query: Query) -> MetricDataResult:
        points = sorted(self.series(query.id).points.items(), reverse=self._request.scan_by == "TimestampDescending")
        return MetricDataResult(
            id=query.id,
            label=query.label or (query.metric.name if isinstance(query, MetricStatQuery) else query.id),
            timestamps=tuple(timestamp for timestamp, _ in points),
            values=tuple(value for _, value in points),
        )

    def series(self, query_id: str) -> _Series:
        if query_id in self._series:
            return self._series[query_id]
        if query_id in self._in_progress:
            cycle = " -> ".join([*self._in_progress[self._in_progress.index(query_id) :], query_id])
            raise MetricDataError(f"expressions refer to each other in a cycle: {cycle}")
        self._in_progress.append(query_id)
        query = self._queries[query_id]
        if isinstance(query, MetricStatQuery):
            series = self._metric_stat_series(query)
        else:
            series = _as_series(self._evaluate(query.expression), query.id)
        self._in_progress.pop()
        self._series[query_id] = series
        return series

    def _metric_stat_series(self, query: MetricStatQuery) -> _Series:
        period = timedelta(seconds=query.period_seconds)
        start = self._request.start_time
        buckets: dict[datetime, list[Sample]] = defaultdict(list)
        for datum in self._datums:
            if datum.metric == query.metric and (query.unit is None or query.unit == datum.unit):
                bucket = start + (as_utc(datum.timestamp) - start) // period * period
                buckets[bucket].append(datum.sample)
        values = {bucket: statistic(query.stat, samples) for bucket, samples in buckets.items()}
        return _Series({bucket: value for bucket, value in values.items() if value is not None}, query.period_seconds)

    def _evaluate(self, expression: Expression) -> float | _Series:
        match expression:
            case Number(value=value):
                return value
            case QueryRef(id=query_id):
                return self.series(query_id)
            case Negation(operand=operand):
                return _each(self._evaluate(operand), lambda value: -value)
            case Absolute(operand=operand):
                return _each(self._evaluate(operand), abs)
            case Fill(series=series, value=value):
                return self._fill(_as_series(self._evaluate(series), "FILL's x"), value)
            case Arithmetic(operator=operator, left=left, right=right):
                return _combine(operator, self._evaluate(left), self._evaluate(right))

    def _fill(self, series: _Series, value: float) -> _Series:
        period = timedelta(seconds=series.period_seconds)
        start, end = self._request.start_time, self._request.end_time
        periods = (end - start) // period + (1 if (end - start) % period else 0)
        filled = {start + index * period: value for index in range(periods)}
        return _Series({**filled, **series.points}, series.period_seconds)


def _as_series(value: float | _Series, what: str) -> _Series:
    if isinstance(value, _Series):
        return value
    raise MetricDataError(f"{what} gives a number, not a time series")


def _each(value: float | _Series, function: Callable[[float], float]) -> float | _Series:
    if isinstance(value, _Series):
        return _Series({timestamp: function(point) for timestamp, point in value.points.items()}, value.period_seconds)
    return function(value)


def _combine(operator: Operator, left: float | _Series, right: float | _Series) -> float | _Series:
    if not isinstance(left, _Series) and not isinstance(right, _Series):
        number = _apply(operator, left, right)
        if number is None:
            raise MetricDataError("the expression divides a number by zero")
        return number
    series = [side for side in (left, right) if isinstance(side, _Series)]
    periods = sorted({side.period_seconds for side in series})
    if len(periods) > 1:
        raise MetricDataError(f"metric math over series of different periods ({periods[0]} s and {periods[1]} s)")
    timestamps = sorted({timestamp for side in series for timestamp in side.points})
    points = {timestamp: _apply(operator, _at(left, timestamp), _at(right, timestamp)) for timestamp in timestamps}
    return _Series({timestamp: value for timestamp, value in points.items() if value is not None}, periods[0])


def _at(value: float | _Series, timestamp: datetime) -> float:
    """CloudWatch's arithmetic treats a series' missing value as 0."""
    return value.points.get(timestamp, 0.0) if isinstance(value, _Series) else value


def _apply(operator: Operator, left: float, right: float) -> float | None:
    """None for a division by zero, whose datapoint CloudWatch drops."""
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    return None if right == 0 else left / right
