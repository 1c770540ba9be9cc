"""moto's server with GetMetricData answered the way CloudWatch answers it: the engine runs this, not moto.server.

moto 5.2.5 fails on percentiles (HTTP 500), answers metric math only when the expression is a bare Id, and
matches dimensions whatever the namespace; tollgate.engine.local_cloudwatch answers instead, over the datums
moto stored. The patch replaces one method of moto's CloudWatch backend, so it is tied to the moto version it
was written for: any other version refuses to start (docs/upstream-moto.md proposes the change to moto).
It also applies tollgate.engine.moto_patches, speed-ups of the Step Functions interpreter that leave what it does
unchanged, unless TOLLGATE_MOTO_PATCHES=off (which only the test comparing histories with and without them sets).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Any

import moto
import moto.server
from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum

from tollgate.engine.local_cloudwatch import (
    Datum,
    Metric,
    MetricDataError,
    MetricDataResult,
    RawValue,
    StatisticSet,
    get_metric_data,
    parse_request,
)
from tollgate.engine.moto_patches import SWITCH_VARIABLE, apply_patches, patches_wanted
from tollgate.engine.moto_server import PINNED_MOTO_VERSION, UNPINNED_MOTO_EXIT_CODE


def unpinned_moto_problem(installed_version: str) -> str | None:
    if installed_version == PINNED_MOTO_VERSION:
        return None
    return (
        f"moto {installed_version} is installed, but Tollgate's GetMetricData patch is written for moto"
        f" {PINNED_MOTO_VERSION}, the version constraints.txt pins: reinstall with"
        " `pip install -c constraints.txt -e .`, or port tollgate/engine/moto_main.py to the new moto"
    )


def stored_datums(backend: CloudWatchBackend) -> list[Datum]:
    """moto's MetricDatum (one raw value, Counts already expanded) and MetricAggregatedDatum (a statistic set)."""
    datums: list[Datum] = []
    for stored in backend.get_all_metrics():
        if isinstance(stored, MetricAggregatedDatum):
            sample: RawValue | StatisticSet = StatisticSet(stored.sample_count, stored.sum, stored.min, stored.max)
        elif isinstance(stored, MetricDatum):
            sample = RawValue(stored.value)
        else:
            raise TypeError(
                f"moto stored a {type(stored).__name__}, a kind of datum moto {PINNED_MOTO_VERSION} has not"
            )
        metric = Metric(
            stored.namespace,
            stored.name,
            frozenset((dimension.name or "", dimension.value or "") for dimension in stored.dimensions),
        )
        datums.append(Datum(metric, stored.timestamp, sample, stored.unit or "None"))
    return datums


def _result_shape(result: MetricDataResult) -> dict[str, Any]:
    return {
        "Id": result.id,
        "Label": result.label,
        "Timestamps": list(result.timestamps),
        "Values": list(result.values),
        "StatusCode": "Complete",
    }


def answer_get_metric_data(
    backend: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampDescending",
) -> list[dict[str, Any]]:
    """Stands in for CloudWatchBackend.get_metric_data; a request it cannot answer is the client's 400, not a 500."""
    try:
        request = parse_request(queries, start_time, end_time, scan_by)
        results = get_metric_data(request, stored_datums(backend))
    except MetricDataError as error:
        raise ValidationError(str(error)) from None
    return [_result_shape(result) for result in results]


def serve_get_metric_data_locally() -> None:
    CloudWatchBackend.get_metric_data = answer_get_metric_data  # type: ignore[method-assign, assignment]


def main() -> None:
    problem = unpinned_moto_problem(moto.__version__)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(UNPINNED_MOTO_EXIT_CODE)
    serve_get_metric_data_locally()
    if patches_wanted(os.environ.get(SWITCH_VARIABLE)):
        apply_patches()
    moto.server.main(sys.argv[1:])


if __name__ == "__main__":
    main()
