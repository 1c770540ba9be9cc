from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tollgate.engine.local_cloudwatch import (
    Datum,
    Metric,
    MetricDataError,
    MetricDataResult,
    RawValue,
    Sample,
    StatisticSet,
    get_metric_data,
    parse_request,
    statistic,
)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
ALB = "AWS/ApplicationELB"
GREEN = {"TargetGroup": "targetgroup/green/73e2d6bc24d8a067", "LoadBalancer": "app/tollgate/50dc6c495c0c9188"}


def metric(name: str, dimensions: dict[str, str] = GREEN, namespace: str = ALB) -> Metric:
    return Metric(namespace, name, frozenset(dimensions.items()))


def datum(name: str, sample: Sample, seconds: float = 0, **where: Any) -> Datum:
    return Datum(metric(name, **where), START + timedelta(seconds=seconds), sample)


def metric_stat(query_id: str, name: str, stat: str, period: int = 60, **extra: Any) -> dict[str, Any]:
    """A MetricDataQuery as GetMetricData takes it."""
    dimensions = [{"Name": key, "Value": value} for key, value in GREEN.items()]
    stat_part: dict[str, Any] = {
        "Metric": {"Namespace": ALB, "MetricName": name, "Dimensions": dimensions},
        "Period": period,
        "Stat": stat,
    }
    if "Unit" in extra:
        stat_part["Unit"] = extra.pop("Unit")
    return {"Id": query_id, "MetricStat": stat_part, **extra}


def expression(query_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"Id": query_id, "Expression": text, **extra}


def answer(
    queries: list[dict[str, Any]],
    datums: list[Datum],
    scan_by: str = "TimestampAscending",
    start: datetime = START,
    end: datetime = END,
) -> dict[str, MetricDataResult]:
    results = get_metric_data(parse_request(queries, start, end, scan_by), datums)
    return {result.id: result for result in results}


def points(result: MetricDataResult) -> list[tuple[float, float]]:
    """(seconds after START, value) pairs, for readable expectations."""
    return [((at - START).total_seconds(), value) for at, value in zip(result.timestamps, result.values, strict=True)]


def one_to_a_hundred() -> list[Sample]:
    return [RawValue(float(value)) for value in range(1, 101)]


@pytest.mark.parametrize(("stat", "expected"), [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p100", 100.0)])
def test_percentiles_of_one_to_a_hundred_are_their_nearest_rank(stat: str, expected: float) -> None:
    assert statistic(stat, one_to_a_hundred()) == expected


def test_a_fractional_percentile_rounds_its_rank_up() -> None:
    # Given 1..100: p99.5 has rank ceil(99.5) = 100, p0.5 has rank ceil(0.5) = 1
    assert statistic("p99.5", one_to_a_hundred()) == 100.0
    assert statistic("p0.5", one_to_a_hundred()) == 1.0


def test_percentiles_of_ten_latencies() -> None:
    # Given 0.1 s .. 1.0 s, put in a shuffled order
    latencies = [RawValue(value / 10) for value in (7, 3, 10, 1, 5, 9, 2, 8, 4, 6)]

    # Then p90 is the 9th smallest (rank 9), p95 the 10th (rank ceil(9.5))
    assert statistic("p90", latencies) == 0.9
    assert statistic("p95", latencies) == 1.0
    assert statistic("p50", latencies) == 0.5


def test_counts_weigh_their_values_in_percentiles() -> None:
    # Given 98 requests at 0.2 s and 2 at 1.5 s (Values [0.2, 1.5], Counts [98, 2])
    latencies: list[Sample] = [RawValue(0.2, count=98), RawValue(1.5, count=2)]

    # Then 98 % of them are at or below 0.2 s, and p99 is the slow one
    assert statistic("p98", latencies) == 0.2
    assert statistic("p99", latencies) == 1.5
    assert statistic("SampleCount", latencies) == 100
    assert statistic("Sum", latencies) == pytest.approx(98 * 0.2 + 2 * 1.5)


def test_basic_statistics_combine_raw_values_and_statistic_sets() -> None:
    # Given raw values 2 and 4, and a statistic set of 3 samples summing to 12 between 1 and 7
    samples: list[Sample] = [RawValue(2.0), RawValue(4.0), StatisticSet(sample_count=3, sum=12, minimum=1, maximum=7)]

    # Then the statistics count all 5 samples
    assert statistic("SampleCount", samples) == 5
    assert statistic("Sum", samples) == 18
    assert statistic("Average", samples) == 3.6
    assert statistic("Minimum", samples) == 1
    assert statistic("Maximum", samples) == 7


def test_a_statistic_set_gives_no_percentile_unless_its_values_are_known() -> None:
    spread = StatisticSet(sample_count=3, sum=12, minimum=1, maximum=7)
    constant = StatisticSet(sample_count=4, sum=1.2, minimum=0.3, maximum=0.3)
    single = StatisticSet(sample_count=1, sum=0.8, minimum=0.8, maximum=0.8)

    # A spread-out set hides its values: no datapoint, even beside raw values
    assert statistic("p99", [spread]) is None
    assert statistic("p50", [RawValue(1.0), spread]) is None
    # Min = Max, or SampleCount 1: every value is known
    assert statistic("p99", [constant]) == 0.3
    assert statistic("p50", [single, RawValue(0.1)]) == 0.1
    assert statistic("p99", [single, RawValue(0.1)]) == 0.8


def test_a_negative_value_leaves_the_period_without_a_percentile() -> None:
    samples: list[Sample] = [RawValue(-1.0), RawValue(3.0)]

    assert statistic("p50", samples) is None
    assert statistic("Sum", samples) == 2.0


def test_datums_fall_in_periods_counted_from_the_start_time() -> None:
    # Given requests at 0 s, 59 s, 60 s and 150 s into the window, and some just outside it
    datums = [datum("RequestCount", RawValue(1.0), seconds=seconds) for seconds in (-1, 0, 59, 60, 150, 300, 301)]

    # When the Sum per minute is asked for
    result = answer([metric_stat("requests", "RequestCount", "Sum")], datums)["requests"]

    # Then each period is stamped with its start, the empty ones are left out, and the end is exclusive
    assert points(result) == [(0.0, 2.0), (60.0, 1.0), (120.0, 1.0)]


def test_periods_start_at_the_start_time_even_off_the_minute() -> None:
    start = START + timedelta(seconds=30)
    datums = [datum("RequestCount", RawValue(1.0), seconds=seconds) for seconds in (31, 89, 90)]

    result = answer([metric_stat("requests", "RequestCount", "Sum")], datums, start=start)["requests"]

    assert [(at - start).total_seconds() for at in result.timestamps] == [0.0, 60.0]
    assert list(result.values) == [2.0, 1.0]


def test_newest_datapoint_comes_first_by_default() -> None:
    datums = [datum("RequestCount", RawValue(value), seconds=60 * value) for value in (0.0, 1.0, 2.0)]
    queries = [metric_stat("requests", "RequestCount", "Sum")]

    assert [value for _, value in points(answer(queries, datums, "TimestampDescending")["requests"])] == [2, 1, 0]
    assert [value for _, value in points(answer(queries, datums, "TimestampAscending")["requests"])] == [0, 1, 2]


def test_a_query_sees_only_the_metric_with_exactly_its_namespace_name_and_dimensions() -> None:
    # Given the green target group's datum, and look-alikes: a third dimension, one dimension fewer,
    # another namespace, another target group
    datums = [
        datum("RequestCount", RawValue(1.0)),
        datum("RequestCount", RawValue(10.0), dimensions={**GREEN, "AvailabilityZone": "us-east-1a"}),
        datum("RequestCount", RawValue(100.0), dimensions={"LoadBalancer": GREEN["LoadBalancer"]}),
        datum("RequestCount", RawValue(1000.0), namespace="Tollgate/Probes"),
        datum("RequestCount", RawValue(10000.0), dimensions={**GREEN, "TargetGroup": "targetgroup/blue/1"}),
    ]

    # When the green target group's requests are summed / Then only its own datum counts
    assert points(answer([metric_stat("requests", "RequestCount", "Sum")], datums)["requests"]) == [(0.0, 1.0)]


def test_a_unit_keeps_only_the_datums_put_with_it() -> None:
    datums = [
        Datum(metric("TargetResponseTime"), START, RawValue(0.5), unit="Seconds"),
        Datum(metric("TargetResponseTime"), START, RawValue(700.0), unit="Milliseconds"),
        Datum(metric("TargetResponseTime"), START, RawValue(9.0)),
    ]

    results = answer(
        [
            metric_stat("seconds", "TargetResponseTime", "Maximum", Unit="Seconds"),
            metric_stat("none", "TargetResponseTime", "Maximum", Unit="None"),
            metric_stat("any", "TargetResponseTime", "Maximum"),
        ],
        datums,
    )

    assert list(results["seconds"].values) == [0.5]
    assert list(results["none"].values) == [9.0]
    assert list(results["any"].values) == [700.0]


def test_a_p99_query_over_minutes_of_latencies() -> None:
    # Given a first minute of 1..100 ms and a second minute whose slowest 2 of 100 requests took 900 ms
    first = [datum("TargetResponseTime", RawValue(value / 1000), seconds=1) for value in range(1, 101)]
    second = [
        datum("TargetResponseTime", RawValue(0.05, count=98), seconds=61),
        datum("TargetResponseTime", RawValue(0.9, count=2), seconds=62),
    ]

    # When p99 per minute is asked for
    result = answer([metric_stat("p99", "TargetResponseTime", "p99")], first + second)["p99"]

    # Then each minute has its own 99th percentile
    assert points(result) == [(0.0, 0.099), (60.0, 0.9)]


def requests_and_errors() -> list[Datum]:
    """Per minute: requests 200, 100, -, 50, -; 5xx errors 2, -, -, 5, -."""
    requests = [(0, 200.0), (60, 100.0), (180, 50.0)]
    errors = [(0, 2.0), (180, 5.0)]
    return [datum("RequestCount", RawValue(count), seconds=at) for at, count in requests] + [
        datum("HTTPCode_Target_5XX_Count", RawValue(count), seconds=at) for at, count in errors
    ]


def rate_queries(text: str) -> list[dict[str, Any]]:
    return [
        metric_stat("errors", "HTTPCode_Target_5XX_Count", "Sum", ReturnData=False),
        metric_stat("requests", "RequestCount", "Sum", ReturnData=False),
        expression("rate", text, Label="5xx rate (%)"),
    ]


def test_a_5xx_rate_is_computed_where_there_were_requests() -> None:
    # When the rate 100 * FILL(errors, 0) / requests is asked for
    results = answer(rate_queries("100 * FILL(errors, 0) / requests"), requests_and_errors())

    # Then only the expression comes back (ReturnData false for the metrics): 1 %, 0 %, and 10 %;
    # the minutes without requests divide by zero and are dropped
    assert list(results) == ["rate"]
    assert results["rate"].label == "5xx rate (%)"
    assert points(results["rate"]) == [(0.0, 1.0), (60.0, 0.0), (180.0, 10.0)]


def test_fill_gives_every_period_of_the_window_a_value() -> None:
    results = answer(
        [metric_stat("errors", "HTTPCode_Target_5XX_Count", "Sum"), expression("filled", "FILL(errors, 0)")],
        requests_and_errors(),
    )

    assert points(results["errors"]) == [(0.0, 2.0), (180.0, 5.0)]
    assert points(results["filled"]) == [(0.0, 2.0), (60.0, 0.0), (120.0, 0.0), (180.0, 5.0), (240.0, 0.0)]


def test_fill_covers_a_last_period_cut_short_by_the_end_time() -> None:
    end = START + timedelta(seconds=150)
    results = answer(
        [
            metric_stat("errors", "HTTPCode_Target_5XX_Count", "Sum", ReturnData=False),
            expression("f", "FILL(errors, -1)"),
        ],
        requests_and_errors(),
        end=end,
    )

    assert points(results["f"]) == [(0.0, 2.0), (60.0, -1.0), (120.0, -1.0)]


def test_arithmetic_treats_a_missing_value_as_zero() -> None:
    # Given errors 2, -, -, 5 and requests 200, 100, -, 50
    results = answer(rate_queries("errors + requests"), requests_and_errors())

    # Then the sum covers every minute either has
    assert points(results["rate"]) == [(0.0, 202.0), (60.0, 100.0), (180.0, 55.0)]


def test_a_division_by_zero_drops_that_datapoint() -> None:
    # Given a minute whose RequestCount Sum is 0
    datums = [*requests_and_errors(), datum("RequestCount", RawValue(0.0), seconds=240)]

    # When errors / requests is asked for
    results = answer(rate_queries("errors / requests"), datums)

    # Then errors missing where requests exist count as 0, and 0 / 0 at 240 s is dropped
    assert points(results["rate"]) == [(0.0, 0.01), (60.0, 0.0), (180.0, 0.1)]


def test_numbers_unary_minus_and_abs_apply_to_every_datapoint() -> None:
    datums = [
        datum("TargetResponseTime", RawValue(value), seconds=60 * index) for index, value in enumerate((0.2, 0.9))
    ]
    queries = [
        metric_stat("latency", "TargetResponseTime", "Maximum", ReturnData=False),
        expression("distance", "ABS(latency - 0.5) * 10"),
        expression("negated", "-latency"),
        expression("halved", "1 / 2 * latency"),
    ]

    results = answer(queries, datums)

    assert list(results["distance"].values) == pytest.approx([3.0, 4.0])
    assert points(results["negated"]) == [(0.0, -0.2), (60.0, -0.9)]
    assert points(results["halved"]) == [(0.0, 0.1), (60.0, 0.45)]


def test_an_expression_may_read_another_expression() -> None:
    queries = [*rate_queries("100 * FILL(errors, 0) / requests"), expression("over_budget", "rate - 5")]

    results = answer(queries, requests_and_errors())

    assert points(results["over_budget"]) == [(0.0, -4.0), (60.0, -5.0), (180.0, 5.0)]


def test_labels_default_to_the_metric_name_and_the_expression_id() -> None:
    results = answer(
        [metric_stat("requests", "RequestCount", "Sum"), expression("doubled", "requests * 2")], requests_and_errors()
    )

    assert results["requests"].label == "RequestCount"
    assert results["doubled"].label == "doubled"


def test_a_query_with_no_data_returns_no_datapoints() -> None:
    results = answer([metric_stat("requests", "RequestCount", "Sum")], [])

    assert results["requests"].timestamps == ()
    assert results["requests"].values == ()


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ([metric_stat("m1", "RequestCount", "Sum"), expression("e", "SUM(METRICS())")], "got 'SUM('"),
        ([metric_stat("m1", "RequestCount", "tm99")], "statistic 'tm99' is not served locally"),
        ([metric_stat("m1", "RequestCount", "p0")], "statistic 'p0' is not served locally"),
        ([metric_stat("m1", "RequestCount", "p100.5")], "statistic 'p100.5' is not served locally"),
        ([metric_stat("m1", "RequestCount", "Sum", period=45)], "Period must be 1, 5, 10, 20, 30, 60"),
        ([expression("e", 'SELECT SUM(RequestCount) FROM "AWS/ApplicationELB"')], "Metrics Insights queries"),
        ([metric_stat("m1", "RequestCount", "Sum"), expression("e", "m1 / m2")], "unknown query id 'm2'"),
        ([metric_stat("m1", "RequestCount", "Sum"), expression("e", "2 * 3")], "gives a number"),
        ([metric_stat("m1", "RequestCount", "Sum"), metric_stat("m1", "RequestCount", "Sum")], "'m1' is used more"),
        ([metric_stat("M1", "RequestCount", "Sum")], "must start with a lowercase letter"),
        ([{**metric_stat("m1", "RequestCount", "Sum"), "Expression": "m1"}], "gives both of MetricStat and"),
        ([{**metric_stat("m1", "RequestCount", "Sum"), "AccountId": "111122223333"}], "cross-account"),
        ([], "at least one query"),
    ],
)
def test_a_request_outside_what_is_served_is_refused_with_its_reason(
    queries: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(MetricDataError, match=message.replace("(", r"\(")):
        parse_request(queries, START, END, "TimestampDescending")


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(MetricDataError, match="EndTime must be greater than StartTime"):
        parse_request([metric_stat("m1", "RequestCount", "Sum")], END, START, "TimestampDescending")


def test_expressions_that_read_each_other_in_a_cycle_are_refused() -> None:
    request = parse_request(
        [metric_stat("m1", "RequestCount", "Sum"), expression("e1", "e2 + m1"), expression("e2", "e1 * 2")],
        START,
        END,
        "TimestampDescending",
    )

    with pytest.raises(MetricDataError, match="cycle: e1 -> e2 -> e1"):
        get_metric_data(request, requests_and_errors())


def test_math_over_series_of_different_periods_is_refused() -> None:
    request = parse_request(
        [
            metric_stat("per_minute", "RequestCount", "Sum"),
            metric_stat("per_five", "RequestCount", "Sum", period=300),
            expression("e", "per_minute / per_five"),
        ],
        START,
        END,
        "TimestampDescending",
    )

    with pytest.raises(MetricDataError, match="different periods"):
        get_metric_data(request, requests_and_errors())


def test_naive_times_are_utc() -> None:
    naive_start = START.replace(tzinfo=None)
    request = parse_request([metric_stat("m1", "RequestCount", "Sum")], naive_start, END, "TimestampAscending")
    naive_datum = Datum(metric("RequestCount"), naive_start, RawValue(3.0))

    assert get_metric_data(request, [naive_datum])[0].timestamps == (START,)
