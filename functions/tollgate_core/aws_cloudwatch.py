"""The CloudWatch MetricSource: GetMetricData, every page, with any error or incomplete series a MetricReadFailed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tollgate_core.aws_clients import LazyClient
from tollgate_core.contracts import MetricDataQuery
from tollgate_core.metric_reading import Datapoint, MetricReadFailed, MetricSeries

# Retries (mode and attempts) come from AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, set in template.yaml.
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10)

FAILED = "CloudWatch GetMetricData failed"
COMPLETE = "Complete"


class CloudWatchMetricSource(LazyClient):
    """Reads GetMetricData through one CloudWatch client, made at the first read."""

    def __init__(self, client: Any = None) -> None:
        super().__init__("cloudwatch", client, _CLIENT_CONFIG)

    def read(self, queries: Sequence[MetricDataQuery], start: datetime, end: datetime) -> Mapping[str, MetricSeries]:
        try:
            pages = self.client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=list(queries), StartTime=start, EndTime=end
            )
            return _series_of(pages)
        except ClientError as error:
            raise MetricReadFailed(f"{FAILED}: {_error_code_and_message(error)}") from None
        except BotoCoreError as error:
            raise MetricReadFailed(f"{FAILED}: {type(error).__name__}: {error}") from None


@dataclass
class _PagedSeries:
    """One query's series as the pages give it: each page adds datapoints and says whether more follow."""

    label: str
    datapoints: list[Datapoint] = field(default_factory=list)
    status: str = COMPLETE

    def series(self) -> MetricSeries:
        return MetricSeries(self.label, tuple(self.datapoints))


def _series_of(pages: Iterable[dict[str, Any]]) -> dict[str, MetricSeries]:
    paged: dict[str, _PagedSeries] = {}
    for page in pages:
        _raise_for_messages(page.get("Messages", []), "")
        for result in page.get("MetricDataResults", []):
            query_id = result["Id"]
            _raise_for_messages(result.get("Messages", []), f"series {query_id}: ")
            series = paged.setdefault(query_id, _PagedSeries(result.get("Label") or query_id))
            series.datapoints += map(Datapoint, result.get("Timestamps", []), result.get("Values", []))
            series.status = result.get("StatusCode", COMPLETE)
    for query_id, series in paged.items():
        # PartialData after the last page (a math expression gives no NextToken) could hide the worst
        # datapoint; InternalError and Forbidden hide all of them. None of these may pass a check.
        if series.status != COMPLETE:
            raise MetricReadFailed(f"{FAILED}: series {query_id}: {series.status}")
    return {query_id: series.series() for query_id, series in paged.items()}


def _raise_for_messages(messages: list[dict[str, str]], subject: str) -> None:
    """CloudWatch answers some problems (too many metrics, a failed expression) with a message, not an error."""
    if messages:
        described = "; ".join(f"{message.get('Code')}: {message.get('Value')}" for message in messages)
        raise MetricReadFailed(f"{FAILED}: {subject}{described}")


def _error_code_and_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code, message = details.get("Code") or "ClientError", details.get("Message")
    return f"{code}: {message}" if message else code
