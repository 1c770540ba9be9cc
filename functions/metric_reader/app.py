"""Metric reader: one reading of a metric check's window in CloudWatch, judged against its threshold."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.aws_cloudwatch import CloudWatchMetricSource
from tollgate_core.contracts import ProbeResult
from tollgate_core.metric_reading import read_metric_event
from tollgate_core.observability import logger

METRICS = CloudWatchMetricSource()


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> ProbeResult:
    result = read_metric_event(event, METRICS)
    logger.info("metric reading", extra={"result": result})
    return result
