"""What an Application Load Balancer in front of the demo service would publish to CloudWatch about it."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.metric_data import CloudWatch, MetricDatum, PutMetricDataRequest, put_metric_data_requests
from tollgate_core.contracts import MetricDimension, TargetGroupMetrics
from tollgate_core.metric_reading import target_group_dimensions

NAMESPACE = "AWS/ApplicationELB"
REQUEST_COUNT = "RequestCount"
TARGET_5XX_COUNT = "HTTPCode_Target_5XX_Count"
TARGET_RESPONSE_TIME = "TargetResponseTime"
FLUSH_SECONDS = 0.5


@dataclass(frozen=True)
class ServedRequest:
    """One request the target answered: when (epoch seconds), with which status, and how long it took."""

    at: float
    status: int
    seconds: float


class AccessLog:
    """The requests served since it was last taken; safe to record into from every request thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: list[ServedRequest] = []

    def record(self, request: ServedRequest) -> None:
        with self._lock:
            self._served.append(request)

    def take(self) -> list[ServedRequest]:
        with self._lock:
            served, self._served = self._served, []
        return served


def alb_metric_data(served: Iterable[ServedRequest], target_group: TargetGroupMetrics) -> list[PutMetricDataRequest]:
    """The target group's metrics for these requests, per second, with one datapoint per request as an ALB counts.

    A count of n is a value of 1 counted n times, so Sum and SampleCount both read n; a second without a 5xx
    answer has no 5xx datapoint, as on AWS.
    """
    by_second: defaultdict[int, list[ServedRequest]] = defaultdict(list)
    for request in served:
        by_second[math.floor(request.at)].append(request)
    dimensions = target_group_dimensions(target_group)
    datums: list[MetricDatum] = []
    for second, requests in sorted(by_second.items()):
        at = datetime.fromtimestamp(second, UTC)
        errors = sum(1 for request in requests if request.status >= 500)
        datums.append(_counted(REQUEST_COUNT, at, len(requests), dimensions))
        if errors:
            datums.append(_counted(TARGET_5XX_COUNT, at, errors, dimensions))
        datums.append(
            {
                "MetricName": TARGET_RESPONSE_TIME,
                "Timestamp": at,
                "Dimensions": dimensions,
                "Values": [request.seconds for request in requests],
                "Unit": "Seconds",
            }
        )
    return put_metric_data_requests(NAMESPACE, datums)


def _counted(name: str, at: datetime, count: int, dimensions: list[MetricDimension]) -> MetricDatum:
    return {
        "MetricName": name,
        "Timestamp": at,
        "Dimensions": dimensions,
        "Values": [1.0],
        "Counts": [count],
        "Unit": "Count",
    }


class AlbMetricsPublisher:
    """Publishes what the access log holds to CloudWatch from a background thread, and once more on stop."""

    def __init__(
        self,
        log: AccessLog,
        cloudwatch: CloudWatch,
        target_group: TargetGroupMetrics,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._log = log
        self._cloudwatch = cloudwatch
        self._target_group = target_group
        self._flush_seconds = flush_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._publish_until_stopped, name="tollgate-demo-alb", daemon=True)
        self._failure: BaseException | None = None

    def __enter__(self) -> AlbMetricsPublisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Publish what is left; raise what made publishing fail, if anything did."""
        self._stopping.set()
        self._thread.join()
        if self._failure is None:
            self.publish()
        if self._failure is not None:
            raise self._failure

    def publish(self) -> None:
        for request in alb_metric_data(self._log.take(), self._target_group):
            self._cloudwatch.put_metric_data(**request)

    def _publish_until_stopped(self) -> None:
        while not self._stopping.wait(self._flush_seconds):
            try:
                self.publish()
            except Exception as error:  # noqa: BLE001 - kept for stop() to raise in the caller's thread
                self._failure = error
                return
