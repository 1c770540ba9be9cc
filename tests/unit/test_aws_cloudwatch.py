"""The CloudWatch MetricSource against botocore's Stubber, and the metric reader's handler over it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from tests.conftest import FakeLambdaContext
from tollgate_core.aws_cloudwatch import CloudWatchMetricSource
from tollgate_core.contracts import CheckKind, MetricCheck, MetricMeasure, NoDataPolicy
from tollgate_core.metric_reading import Datapoint, MetricReadFailed, MetricSeries, metric_queries

START = datetime(2026, 3, 2, 14, 28, tzinfo=UTC)
END = START + timedelta(minutes=5)
CHECK: MetricCheck = {
    "kind": CheckKind.METRIC,
    "name": "green-5xx-rate",
    "measure": MetricMeasure.ERROR_RATE,
    "threshold": {"max": 1},
    "lookbackSeconds": 300,
    "noData": NoDataPolicy.FAIL,
    "minRequests": 50,
    "alb": {"loadBalancer": "app/shop/50dc6c495c0c9188", "targetGroup": "targetgroup/shop-green/73e2d6bc24d8a067"},
}
QUERIES = metric_queries(CHECK)


def cloudwatch_client(**settings: Any) -> Any:
    return boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", **settings
    )


@pytest.fixture
def cloudwatch() -> Iterator[tuple[CloudWatchMetricSource, Stubber]]:
    """A source over a client whose every call must have been expected, and every expected call made."""
    client = cloudwatch_client()
    with Stubber(client) as stubber:
        yield CloudWatchMetricSource(client), stubber
        stubber.assert_no_pending_responses()


def request(queries: Sequence[Any] = QUERIES, **more: Any) -> dict[str, Any]:
    return {"MetricDataQueries": queries, "StartTime": START, "EndTime": END, **more}


def result(query_id: str, *values: float, label: str | None = None, status: str = "Complete") -> dict[str, Any]:
    """One MetricDataResult, its datapoints a minute apart from START, newest first as CloudWatch orders them."""
    timestamps = [START + timedelta(minutes=i) for i in range(len(values))]
    return {
        "Id": query_id,
        "Label": label or query_id,
        "Timestamps": timestamps[::-1],
        "Values": list(values)[::-1],
        "StatusCode": status,
    }


def at(minute: int, value: float) -> Datapoint:
    return Datapoint(START + timedelta(minutes=minute), value)


def test_the_source_sends_the_checks_queries_over_the_window_and_returns_every_series_by_id(
    cloudwatch: tuple[CloudWatchMetricSource, Stubber],
) -> None:
    # Given CloudWatch expects exactly the target group's two sums, each over the whole window
    source, stubber = cloudwatch
    dimensions = [
        {"Name": "LoadBalancer", "Value": "app/shop/50dc6c495c0c9188"},
        {"Name": "TargetGroup", "Value": "targetgroup/shop-green/73e2d6bc24d8a067"},
    ]
    expected_queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dimensions},
                "Period": 360,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for query_id, name in [("requests", "RequestCount"), ("errors", "HTTPCode_Target_5XX_Count")]
    ]
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [result("requests", 1000, label="RequestCount"), result("errors", label="5xx")]},
        request(expected_queries),
    )

    # When the source reads them
    series = source.read(QUERIES, START, END)

    # Then each query's series comes back under its Id, with CloudWatch's label
    assert series == {
        "requests": MetricSeries("RequestCount", (at(0, 1000),)),
        "errors": MetricSeries("5xx", ()),
    }


def test_the_source_reads_every_page_and_joins_each_series(cloudwatch: tuple[CloudWatchMetricSource, Stubber]) -> None:
    # Given CloudWatch answers in two pages, the first one's series partial
    source, stubber = cloudwatch
    first_page = {
        "MetricDataResults": [result("requests", 600, 400, status="PartialData"), result("errors", 3)],
        "NextToken": "page-2",
    }
    stubber.add_response("get_metric_data", first_page, request())
    second_page = {"MetricDataResults": [result("requests", 200)]}
    stubber.add_response("get_metric_data", second_page, request(NextToken="page-2"))

    # When the source reads
    series = source.read(QUERIES, START, END)

    # Then the series hold the datapoints of both pages
    assert sorted(point.value for point in series["requests"].datapoints) == [200, 400, 600]
    assert series["requests"].total() == 1200
    assert series["errors"].datapoints == (at(0, 3),)


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("ThrottlingException", "Rate exceeded", "ThrottlingException: Rate exceeded"),
        (
            "AccessDenied",
            "User is not authorized to perform: cloudwatch:GetMetricData",
            "AccessDenied: User is not authorized to perform: cloudwatch:GetMetricData",
        ),
        ("InvalidParameterValue", "", "InvalidParameterValue"),
    ],
)
def test_an_error_from_cloudwatch_is_a_failed_read_with_its_code_and_message(
    cloudwatch: tuple[CloudWatchMetricSource, Stubber], code: str, message: str, reason: str
) -> None:
    source, stubber = cloudwatch
    stubber.add_client_error("get_metric_data", code, message, http_status_code=400)

    with pytest.raises(MetricReadFailed) as failed:
        source.read(QUERIES, START, END)

    assert str(failed.value) == f"CloudWatch GetMetricData failed: {reason}"


def test_an_error_on_a_later_page_fails_the_whole_read(cloudwatch: tuple[CloudWatchMetricSource, Stubber]) -> None:
    source, stubber = cloudwatch
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [result("requests", 600, status="PartialData")], "NextToken": "page-2"},
        request(),
    )
    stubber.add_client_error("get_metric_data", "ThrottlingException", "Rate exceeded", http_status_code=400)

    with pytest.raises(MetricReadFailed, match="ThrottlingException: Rate exceeded"):
        source.read(QUERIES, START, END)


@pytest.mark.parametrize("status", ["InternalError", "Forbidden", "PartialData"])
def test_a_series_that_cloudwatch_could_not_complete_is_a_failed_read(
    cloudwatch: tuple[CloudWatchMetricSource, Stubber], status: str
) -> None:
    # Given a series CloudWatch did not complete, and no further page
    source, stubber = cloudwatch
    response = {"MetricDataResults": [result("requests", 1000), result("errors", 1, status=status)]}
    stubber.add_response("get_metric_data", response, request())

    # When it is read / Then no reading can come of it
    with pytest.raises(MetricReadFailed) as failed:
        source.read(QUERIES, START, END)
    assert str(failed.value) == f"CloudWatch GetMetricData failed: series errors: {status}"


def test_a_message_on_a_series_is_a_failed_read(cloudwatch: tuple[CloudWatchMetricSource, Stubber]) -> None:
    source, stubber = cloudwatch
    failing = {**result("rate"), "Messages": [{"Code": "ArithmeticError", "Value": "Division by zero"}]}
    stubber.add_response("get_metric_data", {"MetricDataResults": [failing]}, request())

    with pytest.raises(MetricReadFailed) as failed:
        source.read(QUERIES, START, END)

    assert str(failed.value) == "CloudWatch GetMetricData failed: series rate: ArithmeticError: Division by zero"


def test_a_message_about_the_whole_request_is_a_failed_read(
    cloudwatch: tuple[CloudWatchMetricSource, Stubber],
) -> None:
    source, stubber = cloudwatch
    response = {
        "MetricDataResults": [result("requests", 1000)],
        "Messages": [{"Code": "MaxMetricsExceeded", "Value": "Maximum number of allowed metrics exceeded"}],
    }
    stubber.add_response("get_metric_data", response, request())

    with pytest.raises(MetricReadFailed) as failed:
        source.read(QUERIES, START, END)

    assert str(failed.value) == (
        "CloudWatch GetMetricData failed: MaxMetricsExceeded: Maximum number of allowed metrics exceeded"
    )


def test_a_cloudwatch_that_cannot_be_reached_is_a_failed_read() -> None:
    # Given a CloudWatch endpoint where nothing listens, and no retry
    client = cloudwatch_client(
        endpoint_url="http://127.0.0.1:9", config=Config(connect_timeout=1, retries={"total_max_attempts": 1})
    )

    # When the source reads / Then the connection error is the reason
    with pytest.raises(MetricReadFailed, match=r"^CloudWatch GetMetricData failed: EndpointConnectionError: "):
        CloudWatchMetricSource(client).read(QUERIES, START, END)


def test_the_client_is_made_at_the_first_read_so_a_missing_region_fails_the_read_not_the_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an environment without a region
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    # When the source is made, nothing fails; When it reads, the read fails with the SDK's reason
    source = CloudWatchMetricSource()
    with pytest.raises(MetricReadFailed, match=r"^CloudWatch GetMetricData failed: NoRegionError: "):
        source.read(QUERIES, START, END)


# --- the handler -------------------------------------------------------------------------------------------


@pytest.fixture
def metric_reader(monkeypatch: pytest.MonkeyPatch, cloudwatch: tuple[CloudWatchMetricSource, Stubber]) -> ModuleType:
    app = importlib.import_module("metric_reader.app")
    monkeypatch.setattr(app, "METRICS", cloudwatch[0])
    return app


def test_the_metric_reader_reads_cloudwatch_and_answers_with_a_reading(
    metric_reader: ModuleType, cloudwatch: tuple[CloudWatchMetricSource, Stubber], lambda_context: FakeLambdaContext
) -> None:
    # Given CloudWatch holds 34 5xx responses out of 1000 requests for the target group
    response = {"MetricDataResults": [result("requests", 1000), result("errors", 34)]}
    cloudwatch[1].add_response("get_metric_data", response, {**request(), "StartTime": ANY, "EndTime": ANY})

    # When the workflow sends the check
    reading = metric_reader.handler({"stage": "canary", "round": 1, "metric": CHECK}, lambda_context)

    # Then the check fails on its rate
    assert (reading["route"], reading["ok"], reading["value"], reading["reason"]) == (
        "green-5xx-rate",
        False,
        3.4,
        "5xx rate 3.4% over max 1% (34 of 1000 requests, last 300 s)",
    )


def test_the_metric_reader_answers_a_malformed_event_without_calling_cloudwatch(
    metric_reader: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    reading = metric_reader.handler({"stage": "canary", "round": 1}, lambda_context)

    assert (reading["ok"], reading["final"], reading["reason"]) == (
        False,
        True,
        "malformed metric event: metric: missing",
    )
