"""A metric check's reading: the window and queries it reads, and the judgement of what CloudWatch returns."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tollgate_core.contracts import MetricDataQuery, ProbeResult
from tollgate_core.metric_reading import (
    Datapoint,
    MetricReadFailed,
    MetricSeries,
    metric_window,
    read_metric_event,
    readable,
)

NOW = datetime(2026, 3, 2, 14, 32, 17, 500_000, tzinfo=UTC)
ALB = {"loadBalancer": "app/shop/50dc6c495c0c9188", "targetGroup": "targetgroup/shop-green/73e2d6bc24d8a067"}
ORDER_ERRORS: dict[str, Any] = {
    "Id": "e",
    "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "OrderErrors"}, "Period": 60, "Stat": "Sum"},
}
REMOVED = object()


def error_rate_check(**settings: Any) -> dict[str, Any]:
    return {
        "kind": "metric",
        "name": "green-5xx-rate",
        "measure": "errorRatePercent",
        "threshold": {"max": 1},
        "lookbackSeconds": 300,
        "noData": "fail",
        "minRequests": 50,
        "alb": dict(ALB),
        **settings,
    }


def latency_check(**settings: Any) -> dict[str, Any]:
    defaults = {"name": "green-p99", "measure": "latencyMs", "stat": "p99", "threshold": {"max": 800}, "minRequests": 1}
    return error_rate_check(**{**defaults, **settings})


def query_check(*queries: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        "kind": "metric",
        "name": "orders-errors",
        "measure": "query",
        "threshold": {"max": 0},
        "lookbackSeconds": 300,
        "noData": "pass",
        "query": list(queries) or [ORDER_ERRORS],
        **settings,
    }


def metric_event(check: dict[str, Any]) -> dict[str, Any]:
    return {"stage": "canary", "round": 2, "metric": copy.deepcopy(check)}


def minutes(*values: float, label: str = "", first: str = "14:28") -> MetricSeries:
    """A series with one datapoint a minute, the first at `first` (UTC) on the day of NOW."""
    hour, minute = map(int, first.split(":"))
    start = NOW.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return MetricSeries(label, tuple(Datapoint(start + timedelta(minutes=i), v) for i, v in enumerate(values)))


class FakeCloudWatch:
    """A MetricSource that returns the series it was given, or fails, and records what it was asked."""

    def __init__(self, series: Mapping[str, MetricSeries] | None = None, failure: str | None = None) -> None:
        self.series = dict(series or {})
        self.failure = failure
        self.reads: list[tuple[list[MetricDataQuery], datetime, datetime]] = []

    def read(self, queries: Sequence[MetricDataQuery], start: datetime, end: datetime) -> Mapping[str, MetricSeries]:
        self.reads.append((list(queries), start, end))
        if self.failure:
            raise MetricReadFailed(self.failure)
        return self.series


def read(check: dict[str, Any], **series: MetricSeries) -> ProbeResult:
    return read_metric_event(metric_event(check), FakeCloudWatch(series), clock=lambda: NOW)


def outcome(result: ProbeResult) -> tuple[bool, float | None, str | None]:
    return result["ok"], result.get("value"), result["reason"]


# --- the window and the request -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (NOW, "14:27", "14:33"),
        (NOW.replace(second=0, microsecond=0), "14:27", "14:33"),
        (NOW.replace(minute=59, second=59), "14:54", "15:00"),
        (datetime(2026, 3, 2, 16, 32, 17, tzinfo=timezone(timedelta(hours=2))), "14:27", "14:33"),
    ],
)
def test_the_window_is_the_lookback_before_the_current_minute_and_the_current_minute(
    now: datetime, start: str, end: str
) -> None:
    window = metric_window(now, 300)

    assert (f"{window.start:%H:%M}", f"{window.end:%H:%M}", window.seconds) == (start, end, 360)
    assert window.end.tzinfo == UTC


def test_an_error_rate_reads_the_target_groups_requests_and_5xx_as_one_period_over_the_window() -> None:
    # Given a 5xx rate check of a target group
    cloudwatch = FakeCloudWatch({"requests": minutes(1000)})

    # When it is read
    read_metric_event(metric_event(error_rate_check()), cloudwatch, clock=lambda: NOW)

    # Then CloudWatch is asked for both sums of that target group, one period over the last five minutes
    dimensions = [
        {"Name": "LoadBalancer", "Value": ALB["loadBalancer"]},
        {"Name": "TargetGroup", "Value": ALB["targetGroup"]},
    ]
    [(queries, start, end)] = cloudwatch.reads
    assert queries == [
        {
            "Id": "requests",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": dimensions},
                "Period": 360,
                "Stat": "Sum",
            },
            "ReturnData": True,
        },
        {
            "Id": "errors",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": dimensions,
                },
                "Period": 360,
                "Stat": "Sum",
            },
            "ReturnData": True,
        },
    ]
    assert (start, end) == (datetime(2026, 3, 2, 14, 27, tzinfo=UTC), datetime(2026, 3, 2, 14, 33, tzinfo=UTC))


def test_a_latency_reads_the_requests_and_the_response_time_statistic_of_the_check() -> None:
    cloudwatch = FakeCloudWatch({"requests": minutes(1000)})

    read_metric_event(metric_event(latency_check(lookbackSeconds=600)), cloudwatch, clock=lambda: NOW)

    [(queries, start, _)] = cloudwatch.reads
    read_metrics = [
        (query["Id"], stat["Metric"]["MetricName"], stat["Stat"], stat["Period"])
        for query in queries
        if (stat := query["MetricStat"])
    ]
    assert read_metrics == [("requests", "RequestCount", "Sum", 660), ("latency", "TargetResponseTime", "p99", 660)]
    assert start == datetime(2026, 3, 2, 14, 22, tzinfo=UTC)


def test_a_query_check_runs_the_users_queries_as_written() -> None:
    expression = {"Id": "rate", "Expression": "100 * e / 5", "Label": "error rate"}
    hidden = {**ORDER_ERRORS, "ReturnData": False}
    cloudwatch = FakeCloudWatch()

    read_metric_event(metric_event(query_check(hidden, expression)), cloudwatch, clock=lambda: NOW)

    assert cloudwatch.reads[0][0] == [hidden, expression]


# --- errorRatePercent -------------------------------------------------------------------------------------


def test_a_5xx_rate_over_its_max_fails_with_the_rate_the_counts_and_the_window() -> None:
    result = read(error_rate_check(), requests=minutes(1000, label="RequestCount"), errors=minutes(34))

    assert outcome(result) == (False, 3.4, "5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)")


def test_a_5xx_rate_within_its_max_passes_with_the_rate_as_its_value() -> None:
    result = read(error_rate_check(), requests=minutes(1000), errors=minutes(2))

    assert outcome(result) == (True, 0.2, None)


def test_a_5xx_rate_equal_to_its_max_passes() -> None:
    assert outcome(read(error_rate_check(), requests=minutes(1000), errors=minutes(10))) == (True, 1.0, None)


def test_without_5xx_datapoints_a_target_group_that_served_requests_has_a_zero_rate() -> None:
    # Given requests in the window but no 5xx datapoint: ALB publishes none when no 5xx happened
    result = read(error_rate_check(), requests=minutes(1000), errors=minutes())

    # Then the rate is zero, and the check passes
    assert outcome(result) == (True, 0.0, None)


def test_a_rate_sums_every_datapoint_the_window_returned() -> None:
    result = read(error_rate_check(), requests=minutes(600, 400), errors=minutes(20, 14))

    assert result["value"] == pytest.approx(3.4)
    assert result["reason"] == "5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)"


def test_a_5xx_rate_under_its_min_fails() -> None:
    check = error_rate_check(threshold={"min": 1})

    result = read(check, requests=minutes(1000))

    assert outcome(result) == (False, 0.0, "5xx rate 0% under min 1% (0 of 1000 requests, last 300 s)")


def test_a_rate_is_readable_however_it_divides() -> None:
    result = read(error_rate_check(), requests=minutes(300), errors=minutes(100))

    assert result["reason"] == "5xx rate 33.33% over max 1% (100 of 300 requests, last 300 s)"


@pytest.mark.parametrize("requests", [minutes(), minutes(0)])
def test_no_requests_at_all_fails_the_check_by_default(requests: MetricSeries) -> None:
    result = read(error_rate_check(), requests=requests)

    assert outcome(result) == (False, None, "no requests in the last 300 s")


def test_no_requests_pass_with_no_data_pass_and_the_reason_still_says_so() -> None:
    result = read(error_rate_check(noData="pass"))

    assert outcome(result) == (True, None, "no requests in the last 300 s; noData: pass")


def test_fewer_requests_than_the_minimum_fail_the_check_whatever_the_no_data_policy() -> None:
    result = read(error_rate_check(noData="pass"), requests=minutes(5, 7), errors=minutes(1))

    assert outcome(result) == (False, None, "not enough traffic: 12 requests in the last 300 s, minRequests 50")


def test_exactly_the_minimum_of_requests_is_enough() -> None:
    assert read(error_rate_check(), requests=minutes(50))["ok"] is True


# --- latencyMs ------------------------------------------------------------------------------------------


def test_a_percentile_over_its_max_fails_in_milliseconds_with_the_traffic_it_measured() -> None:
    result = read(latency_check(), requests=minutes(1000), latency=minutes(0.912))

    assert outcome(result) == (False, 912.0, "p99 latency 912 ms over max 800 ms (1000 requests, last 300 s)")


def test_a_latency_within_its_max_passes_with_the_statistic_in_milliseconds() -> None:
    result = read(latency_check(), requests=minutes(1000), latency=minutes(0.4505))

    assert (result["ok"], result["reason"]) == (True, None)
    assert result["value"] == pytest.approx(450.5)


def test_a_latency_under_its_min_fails() -> None:
    check = latency_check(stat="Average", threshold={"min": 5})

    result = read(check, requests=minutes(20), latency=minutes(0.0021))

    assert (result["ok"], result["reason"]) == (
        False,
        "Average latency 2.1 ms under min 5 ms (20 requests, last 300 s)",
    )
    assert result["value"] == pytest.approx(2.1)


def test_a_latency_needs_its_minimum_of_requests() -> None:
    check = latency_check(minRequests=100)

    result = read(check, requests=minutes(12), latency=minutes(5.0))

    assert outcome(result) == (False, None, "not enough traffic: 12 requests in the last 300 s, minRequests 100")


def test_a_latency_without_requests_follows_the_no_data_policy() -> None:
    assert outcome(read(latency_check())) == (False, None, "no requests in the last 300 s")
    assert outcome(read(latency_check(noData="pass"))) == (True, None, "no requests in the last 300 s; noData: pass")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("fail", (False, None, "no latency data in the last 300 s")),
        ("pass", (True, None, "no latency data in the last 300 s; noData: pass")),
    ],
)
def test_requests_without_a_latency_datapoint_follow_the_no_data_policy(
    policy: str, expected: tuple[bool, float | None, str]
) -> None:
    assert outcome(read(latency_check(noData=policy), requests=minutes(1000))) == expected


# --- query ----------------------------------------------------------------------------------------------


def test_a_query_over_its_max_names_the_worst_datapoint_its_time_and_how_many_were_read() -> None:
    # Given five minutes of order errors, the worst at 14:32
    errors = minutes(0, 1, 0, 2, 3, label="OrderErrors")

    # When the query check with max 0 reads them
    result = read(query_check(), e=errors)

    # Then it fails on the highest, named by its series
    assert outcome(result) == (
        False,
        3,
        "OrderErrors Sum 3 over max 0 at 14:32 UTC (worst of 5 datapoints, last 300 s)",
    )


def test_a_query_within_its_max_passes_with_its_highest_datapoint_as_its_value() -> None:
    result = read(query_check(threshold={"max": 5}), e=minutes(0, 4, 1, label="OrderErrors"))

    assert outcome(result) == (True, 4, None)


def test_a_query_under_its_min_names_the_lowest_datapoint_and_the_users_label() -> None:
    orders = {**ORDER_ERRORS, "Label": "orders placed"}

    result = read(query_check(orders, threshold={"min": 10}), e=minutes(12, 9.5, 30, label="orders placed"))

    assert outcome(result) == (
        False,
        9.5,
        "orders placed 9.5 under min 10 at 14:29 UTC (worst of 3 datapoints, last 300 s)",
    )


def test_a_query_with_both_bounds_checks_the_highest_against_the_max_and_the_lowest_against_the_min() -> None:
    check = query_check(threshold={"min": 10, "max": 100})

    within = read(check, e=minutes(10, 100, label="OrderErrors"))
    outside = read(check, e=minutes(150, 50, 2, label="OrderErrors"))

    assert outcome(within) == (True, 100, None)
    assert outcome(outside) == (
        False,
        150,
        "OrderErrors Sum 150 over max 100 at 14:28 UTC and 2 under min 10 at 14:30 UTC "
        "(worst of 3 datapoints, last 300 s)",
    )


def test_among_equally_bad_datapoints_the_latest_is_named() -> None:
    result = read(query_check(), e=minutes(3, 0, 3, label="OrderErrors"))

    assert result["reason"] == "OrderErrors Sum 3 over max 0 at 14:30 UTC (worst of 3 datapoints, last 300 s)"


def test_a_query_judges_the_one_series_that_returns_data_by_cloudwatchs_label() -> None:
    # Given a hidden metric and an expression over it, which alone returns data
    expression = {"Id": "rate", "Expression": "100 * e / 5"}
    check = query_check({**ORDER_ERRORS, "ReturnData": False}, expression, threshold={"max": 1})

    result = read(check, rate=minutes(0.5, 2.25, label="rate"))

    assert outcome(result) == (False, 2.25, "rate 2.25 over max 1 at 14:29 UTC (worst of 2 datapoints, last 300 s)")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("fail", (False, None, "no data in the last 300 s")),
        ("pass", (True, None, "no data in the last 300 s; noData: pass")),
    ],
)
def test_a_query_without_datapoints_follows_the_no_data_policy(
    policy: str, expected: tuple[bool, float | None, str]
) -> None:
    assert outcome(read(query_check(noData=policy), e=minutes(label="OrderErrors"))) == expected
    assert outcome(read(query_check(noData=policy))) == expected


# --- every reading ----------------------------------------------------------------------------------------


def test_a_reading_is_one_final_attempt_named_after_the_check() -> None:
    result = read(error_rate_check(), requests=minutes(1000), errors=minutes(34))

    assert result == {
        "stage": "canary",
        "route": "green-5xx-rate",
        "round": 2,
        "attempts": 1,
        "ok": False,
        "statusCode": None,
        "latencyMs": None,
        "reason": "5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)",
        "final": True,
        "retryInSeconds": 0,
        "value": 3.4,
    }


@pytest.mark.parametrize(
    "check",
    [error_rate_check(noData="pass"), latency_check(noData="pass"), query_check(noData="pass")],
    ids=["errorRatePercent", "latencyMs", "query"],
)
def test_a_cloudwatch_error_fails_the_check_even_where_no_data_would_pass(check: dict[str, Any]) -> None:
    # Given CloudWatch still throttles after the SDK's retries
    cloudwatch = FakeCloudWatch(failure="CloudWatch GetMetricData failed: ThrottlingException: Rate exceeded")

    # When the check is read
    result = read_metric_event(metric_event(check), cloudwatch, clock=lambda: NOW)

    # Then it fails, for good, with CloudWatch's reason and no value
    assert outcome(result) == (False, None, "CloudWatch GetMetricData failed: ThrottlingException: Rate exceeded")
    assert (result["final"], result["attempts"], result["retryInSeconds"]) == (True, 1, 0)


# --- malformed events -------------------------------------------------------------------------------------


def with_field(check: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    event = metric_event(check)
    *parents, name = field.split(".")
    container: Any = event
    for parent in parents:
        container = container[int(parent)] if isinstance(container, list) else container[parent]
    key = int(name) if isinstance(container, list) else name
    if value is REMOVED:
        del container[key]
    else:
        container[key] = value
    return event


@pytest.mark.parametrize(
    ("check", "field", "value", "problem"),
    [
        (error_rate_check(), "stage", REMOVED, "stage: missing"),
        (error_rate_check(), "round", True, "round: expected int, got bool"),
        (error_rate_check(), "metric", "green-5xx-rate", "metric: expected an object, got str"),
        (error_rate_check(), "metric.name", 7, "metric.name: expected str, got int"),
        (
            error_rate_check(),
            "metric.measure",
            "5xxRate",
            "metric.measure: expected one of errorRatePercent, latencyMs, query, got '5xxRate'",
        ),
        (error_rate_check(), "metric.threshold", {}, "metric.threshold: expected max, min or both"),
        (error_rate_check(), "metric.threshold", [1], "metric.threshold: expected an object, got list"),
        (error_rate_check(), "metric.threshold.max", "1%", "metric.threshold.max: expected a number, got str"),
        (error_rate_check(), "metric.threshold.min", False, "metric.threshold.min: expected a number, got bool"),
        (
            error_rate_check(),
            "metric.lookbackSeconds",
            90,
            "metric.lookbackSeconds: expected a positive multiple of 60, got 90",
        ),
        (
            error_rate_check(),
            "metric.lookbackSeconds",
            0,
            "metric.lookbackSeconds: expected a positive multiple of 60, got 0",
        ),
        (error_rate_check(), "metric.lookbackSeconds", 300.0, "metric.lookbackSeconds: expected int, got float"),
        (error_rate_check(), "metric.noData", None, "metric.noData: expected one of pass, fail, got None"),
        (error_rate_check(), "metric.alb", REMOVED, "metric.alb: missing"),
        (error_rate_check(), "metric.alb.targetGroup", REMOVED, "metric.alb.targetGroup: missing"),
        (
            error_rate_check(),
            "metric.alb.loadBalancer",
            ["app/shop"],
            "metric.alb.loadBalancer: expected str, got list",
        ),
        (error_rate_check(), "metric.minRequests", "50", "metric.minRequests: expected int, got str"),
        (latency_check(), "metric.stat", REMOVED, "metric.stat: missing"),
        (query_check(), "metric.query", [], "metric.query: expected a non-empty list, got list"),
        (query_check(), "metric.query", {"Id": "e"}, "metric.query: expected a non-empty list, got dict"),
        (query_check(), "metric.query.0", "e", "metric.query[0]: expected an object, got str"),
        (query_check(), "metric.query.0.Id", REMOVED, "metric.query[0].Id: missing"),
        (query_check(), "metric.query.0.ReturnData", "yes", "metric.query[0].ReturnData: expected bool, got str"),
        (query_check(), "metric.query.0.Label", 3, "metric.query[0].Label: expected str, got int"),
        (query_check(), "metric.query.0.MetricStat", "Sum", "metric.query[0].MetricStat: expected an object, got str"),
        (
            query_check(),
            "metric.query.0.ReturnData",
            False,
            "metric.query: expected exactly one query that returns data, got 0",
        ),
    ],
)
def test_a_malformed_event_fails_the_check_naming_the_field_and_what_is_wrong(
    check: dict[str, Any], field: str, value: Any, problem: str
) -> None:
    # Given a metric event with one field missing or of a type the reader cannot use
    event = with_field(check, field, value)
    cloudwatch = FakeCloudWatch()

    # When the reader gets it
    result = read_metric_event(event, cloudwatch, clock=lambda: NOW)

    # Then the check fails at once, for good, saying which field and why, and CloudWatch is not asked
    assert outcome(result) == (False, None, f"malformed metric event: {problem}")
    assert (result["final"], result["attempts"], result["retryInSeconds"]) == (True, 1, 0)
    assert cloudwatch.reads == []


def test_a_query_check_must_have_exactly_one_series_to_judge() -> None:
    check = query_check(ORDER_ERRORS, {"Id": "rate", "Expression": "e * 2"})

    result = read_metric_event(metric_event(check), FakeCloudWatch(), clock=lambda: NOW)

    assert (
        result["reason"] == "malformed metric event: metric.query: expected exactly one query that returns data, got 2"
    )


@pytest.mark.parametrize(
    ("event", "names"),
    [
        (with_field(error_rate_check(), "metric.threshold", None), ("canary", "green-5xx-rate", 2)),
        ({"stage": "soak", "metric": "orders", "round": "2"}, ("soak", "?", 0)),
        ({"stage": "soak", "metric": {"measure": "query"}, "round": 3}, ("soak", "?", 3)),
        (None, ("?", "?", 0)),
    ],
)
def test_a_failed_reading_for_a_malformed_event_names_what_it_can_read(event: Any, names: tuple[Any, ...]) -> None:
    result = read_metric_event(event, FakeCloudWatch(), clock=lambda: NOW)

    assert (result["stage"], result["route"], result["round"]) == names


def test_an_event_that_is_no_object_is_named_as_the_event() -> None:
    result = read_metric_event([], FakeCloudWatch(), clock=lambda: NOW)

    assert result["reason"] == "malformed metric event: (event): expected an object, got list"


# --- numbers in reasons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (3.0, "3"),
        (1000.0, "1000"),
        (0.0, "0"),
        (3.4, "3.4"),
        (912.0000000000001, "912"),
        (100 / 3, "33.33"),
        (0.004, "0.004"),
        (0.00012345, "0.00012"),
        (-2.5, "-2.5"),
        (1_250_000.5, "1250000.5"),
    ],
)
def test_numbers_in_reasons_read_as_people_write_them(number: float, text: str) -> None:
    assert readable(number) == text


def test_a_single_request_or_datapoint_is_counted_in_the_singular() -> None:
    few = read(latency_check(minRequests=2), requests=minutes(1))
    one = read(latency_check(), requests=minutes(1), latency=minutes(0.9))
    only = read(query_check(), e=minutes(2, label="OrderErrors"))

    assert few["reason"] == "not enough traffic: 1 request in the last 300 s, minRequests 2"
    assert one["reason"] == "p99 latency 900 ms over max 800 ms (1 request, last 300 s)"
    assert only["reason"] == "OrderErrors Sum 2 over max 0 at 14:28 UTC (the only datapoint, last 300 s)"
