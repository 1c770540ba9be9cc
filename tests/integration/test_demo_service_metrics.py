"""The demo service behind its pretend ALB: what reaches the engine's CloudWatch is what the service served."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tollgate.demo.load_balancer import AlbMetricsPublisher
from tollgate.demo.service import DemoService
from tollgate.engine.engine import LocalEngine
from tollgate_core.contracts import TargetGroupMetrics


def new_target_group() -> TargetGroupMetrics:
    """A target group of its own, so the session's shared CloudWatch holds no data another test reads."""
    return {
        "loadBalancer": "app/tollgate-demo/50dc6c495c0c9188",
        "targetGroup": f"targetgroup/tollgate-demo-green/{uuid.uuid4().hex[:16]}",
    }


def statistic(engine: LocalEngine, metric: str, stat: str, target_group: TargetGroupMetrics) -> float | None:
    """The metric's statistic over the last ten minutes; None when CloudWatch holds no datapoint."""
    dimensions = [
        {"Name": "LoadBalancer", "Value": target_group["loadBalancer"]},
        {"Name": "TargetGroup", "Value": target_group["targetGroup"]},
    ]
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dimensions},
            "Period": 900,
            "Stat": stat,
        },
    }
    now = datetime.now(UTC)
    response = engine.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query], StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1)
    )
    values: list[float] = response["MetricDataResults"][0]["Values"]
    assert len(values) <= 1, values
    return values[0] if values else None


@pytest.mark.parametrize(("broken", "errors"), [(False, None), (True, 6.0)])
def test_the_demo_service_publishes_one_datapoint_per_request_it_served(
    engine: LocalEngine, broken: bool, errors: float | None
) -> None:
    # Given the demo service behind a load balancer publishing to the engine's CloudWatch
    target_group = new_target_group()
    with (
        DemoService(broken=broken) as service,
        AlbMetricsPublisher(service.access_log, engine.client("cloudwatch"), target_group),
        requests.Session() as session,
    ):
        # When it serves 6 orders and 4 health checks
        answers = [session.get(f"{service.url}/api/orders", timeout=5).status_code for _ in range(6)]
        answers += [session.get(f"{service.url}/health", timeout=5).status_code for _ in range(4)]

    # Then CloudWatch counts 10 requests, 10 response times, and a 5xx for each order only when broken
    assert answers == [500 if broken else 200] * 6 + [200] * 4
    assert statistic(engine, "RequestCount", "Sum", target_group) == 10.0
    assert statistic(engine, "TargetResponseTime", "SampleCount", target_group) == 10.0
    response_time = statistic(engine, "TargetResponseTime", "Maximum", target_group)
    assert response_time is not None and 0 < response_time < 5
    assert statistic(engine, "HTTPCode_Target_5XX_Count", "Sum", target_group) == errors
