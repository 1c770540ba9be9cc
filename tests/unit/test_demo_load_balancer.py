"""The demo's pretend ALB: the metrics it makes of the requests served, its publishing, and the demo's users."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.support.target import Behaviour, TargetService
from tollgate.demo.load_balancer import AccessLog, AlbMetricsPublisher, ServedRequest, alb_metric_data
from tollgate.demo.users import SimulatedUsers
from tollgate_core.contracts import TargetGroupMetrics

TARGET_GROUP: TargetGroupMetrics = {
    "loadBalancer": "app/tollgate-demo/50dc6c495c0c9188",
    "targetGroup": "targetgroup/tollgate-demo-green/73e2d6bc24d8a067",
}
DIMENSIONS = [
    {"Name": "LoadBalancer", "Value": "app/tollgate-demo/50dc6c495c0c9188"},
    {"Name": "TargetGroup", "Value": "targetgroup/tollgate-demo-green/73e2d6bc24d8a067"},
]
SECOND = 1772452800  # 2026-03-02T12:00:00Z


def at(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def test_each_second_of_requests_becomes_the_target_groups_counts_and_response_times() -> None:
    # Given three requests in one second, one of them answered 500, and one in the next second
    served = [
        ServedRequest(SECOND + 0.1, 200, 0.004),
        ServedRequest(SECOND + 0.5, 500, 0.002),
        ServedRequest(SECOND + 0.9, 200, 0.006),
        ServedRequest(SECOND + 1.2, 404, 0.001),
    ]

    # When the load balancer makes its metrics of them
    requests = alb_metric_data(served, TARGET_GROUP)

    # Then each second has its request count, its response times, and a 5xx count only when there was a 5xx
    assert requests == [
        {
            "Namespace": "AWS/ApplicationELB",
            "MetricData": [
                {
                    "MetricName": "RequestCount",
                    "Timestamp": at(SECOND),
                    "Dimensions": DIMENSIONS,
                    "Values": [1.0],
                    "Counts": [3],
                    "Unit": "Count",
                },
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Timestamp": at(SECOND),
                    "Dimensions": DIMENSIONS,
                    "Values": [1.0],
                    "Counts": [1],
                    "Unit": "Count",
                },
                {
                    "MetricName": "TargetResponseTime",
                    "Timestamp": at(SECOND),
                    "Dimensions": DIMENSIONS,
                    "Values": [0.004, 0.002, 0.006],
                    "Unit": "Seconds",
                },
                {
                    "MetricName": "RequestCount",
                    "Timestamp": at(SECOND + 1),
                    "Dimensions": DIMENSIONS,
                    "Values": [1.0],
                    "Counts": [1],
                    "Unit": "Count",
                },
                {
                    "MetricName": "TargetResponseTime",
                    "Timestamp": at(SECOND + 1),
                    "Dimensions": DIMENSIONS,
                    "Values": [0.001],
                    "Unit": "Seconds",
                },
            ],
        }
    ]


def test_no_requests_make_no_metrics() -> None:
    assert alb_metric_data([], TARGET_GROUP) == []


def test_the_access_log_hands_each_request_over_once() -> None:
    log = AccessLog()
    log.record(ServedRequest(SECOND, 200, 0.01))

    assert log.take() == [ServedRequest(SECOND, 200, 0.01)]
    assert log.take() == []


@pytest.fixture
def cloudwatch() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stubber:
        yield client, stubber


def test_stopping_the_publisher_publishes_what_the_log_still_holds(cloudwatch: tuple[Any, Stubber]) -> None:
    # Given a publisher that flushes rarely, and a request served
    client, stubber = cloudwatch
    log = AccessLog()
    served = ServedRequest(SECOND, 500, 0.01)
    [request] = alb_metric_data([served], TARGET_GROUP)
    stubber.add_response("put_metric_data", {}, dict(request))
    publisher = AlbMetricsPublisher(log, client, TARGET_GROUP, flush_seconds=3600)

    # When it stops
    with publisher:
        log.record(served)

    # Then the request was published
    stubber.assert_no_pending_responses()


def test_a_refused_publication_is_raised_when_the_publisher_stops(cloudwatch: tuple[Any, Stubber]) -> None:
    # Given CloudWatch refusing the data
    client, stubber = cloudwatch
    stubber.add_client_error("put_metric_data", "InvalidParameterValue", "no")
    log = AccessLog()
    log.record(ServedRequest(SECOND, 200, 0.01))
    publisher = AlbMetricsPublisher(log, client, TARGET_GROUP, flush_seconds=0.01)

    # When the publisher stops, then the refusal reaches the caller
    with pytest.raises(ClientError, match="InvalidParameterValue"), publisher:
        pass


def test_the_users_browse_every_path_in_turn() -> None:
    paths = {"/api/orders": Behaviour(), "/health": Behaviour()}
    with TargetService(paths) as service, SimulatedUsers(service.url, requests_per_second=50):
        deadline = time.monotonic() + 10
        while min(service.hits.get(path, 0) for path in paths) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)

    assert min(service.hits.get(path, 0) for path in paths) >= 3
