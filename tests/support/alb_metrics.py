"""What an ALB records in CloudWatch about a target group, put into an engine's CloudWatch for a test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate.engine.engine import LocalEngine
from tollgate_core.contracts import MetricDimension
from tollgate_core.metric_reading import target_group_dimensions as dimensions_of

ALB_NAMESPACE = "AWS/ApplicationELB"
LOAD_BALANCER = "app/shop/50dc6c495c0c9188"


def new_target_group() -> str:
    """A target group of its own, so a session's shared CloudWatch holds no data another test reads."""
    return f"targetgroup/shop-green/{uuid.uuid4().hex[:16]}"


def target_group_dimensions(target_group: str) -> list[MetricDimension]:
    return dimensions_of({"loadBalancer": LOAD_BALANCER, "targetGroup": target_group})


def seed_alb_traffic(
    engine: LocalEngine,
    target_group: str,
    requests: int,
    errors: int = 0,
    response_seconds: list[float] | None = None,
) -> None:
    """Half a minute ago: `requests` requests, `errors` 5xx (a datapoint only when there were some), response times."""
    dimensions = target_group_dimensions(target_group)
    at = datetime.now(UTC) - timedelta(seconds=30)
    data: list[dict[str, Any]] = [
        {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": at, "Value": requests}
    ]
    if errors:
        data.append(
            {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dimensions, "Timestamp": at, "Value": errors}
        )
    if response_seconds:
        time_data = {"Values": response_seconds, "Unit": "Seconds"}
        data.append({"MetricName": "TargetResponseTime", "Dimensions": dimensions, "Timestamp": at, **time_data})
    engine.client("cloudwatch").put_metric_data(Namespace=ALB_NAMESPACE, MetricData=data)
