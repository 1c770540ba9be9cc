"""`tollgate run --metric-data`: files seed the engine's CloudWatch, and the validation reads what they said.

Every test seeds its own target group, so the session's shared CloudWatch holds no data another test reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.suites import stage, suite_document, target_group_check, write_suite
from tollgate.engine.engine import LocalEngine
from tollgate.metric_data import load_metric_data, seed_metric_data

TOLLGATE = str(Path(sys.executable).with_name("tollgate"))
LOAD_BALANCER = "app/shop/50dc6c495c0c9188"  # the one tests.support.suites.target_group_check names


def new_target_group() -> str:
    return f"targetgroup/shop-green/{uuid.uuid4().hex[:16]}"


def alb_dimensions(target_group: str) -> list[dict[str, str]]:
    return [{"Name": "LoadBalancer", "Value": LOAD_BALANCER}, {"Name": "TargetGroup", "Value": target_group}]


def write_metric_data(directory: Path, data: Any) -> Path:
    path = directory / "metrics.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def sums_per_minute(
    engine: LocalEngine, metric: str, target_group: str, since: datetime, until: datetime
) -> dict[datetime, float]:
    """The metric's Sum in each minute from `since` (a whole minute) until `until`, as GetMetricData reads it."""
    query = {
        "Id": "sum",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": metric,
                "Dimensions": alb_dimensions(target_group),
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }
    response = engine.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query], StartTime=since, EndTime=until, ScanBy="TimestampAscending"
    )
    [result] = response["MetricDataResults"]
    return {moment.astimezone(UTC): value for moment, value in zip(result["Timestamps"], result["Values"], strict=True)}


def test_a_file_with_relative_timestamps_seeds_cloudwatch_at_those_times(engine: LocalEngine, tmp_path: Path) -> None:
    # Given an ALB's requests and 5xx answers over the last minutes, relative to the run's start
    target_group = new_target_group()
    dimensions = alb_dimensions(target_group)
    path = write_metric_data(
        tmp_path,
        [
            {
                "Namespace": "AWS/ApplicationELB",
                "MetricData": [
                    {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": "-5m", "Value": 40},
                    {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": "-90s", "Value": 25},
                    {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": "now", "Value": 10},
                ],
            },
            {
                "Namespace": "AWS/ApplicationELB",
                "MetricData": [
                    {
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Dimensions": dimensions,
                        "Timestamp": "-90s",
                        "Values": [1],
                        "Counts": [7],
                        "Unit": "Count",
                    }
                ],
            },
        ],
    )
    run_started = datetime.now(UTC)

    # When the file is read and sent as `tollgate run` does
    sent = seed_metric_data(engine.client("cloudwatch"), load_metric_data([path], run_started))

    # Then CloudWatch holds each value in the minute its timestamp names
    assert sent == 4
    since = run_started.replace(second=0, microsecond=0) - timedelta(minutes=10)
    until = since + timedelta(minutes=12)

    def minute_of(moment: datetime) -> datetime:
        return since + timedelta(minutes=(moment - since) // timedelta(minutes=1))

    requests = {
        minute_of(run_started - timedelta(minutes=5)): 40.0,
        minute_of(run_started - timedelta(seconds=90)): 25.0,
        minute_of(run_started): 10.0,
    }
    assert sums_per_minute(engine, "RequestCount", target_group, since, until) == requests
    errors = {minute_of(run_started - timedelta(seconds=90)): 7.0}
    assert sums_per_minute(engine, "HTTPCode_Target_5XX_Count", target_group, since, until) == errors


def test_run_judges_a_metric_check_by_the_data_it_was_seeded_with(tmp_path: Path) -> None:
    # Given a suite gating on a target group's 5xx rate, and a file saying half its requests failed 30 s ago
    target_group = new_target_group()
    check = target_group_check("5xx-rate", target_group, errorRatePercent={"max": 1}, minRequests=10)
    suite = write_suite(tmp_path, suite_document(stage("soak", metrics=[check])))
    dimensions = alb_dimensions(target_group)
    metrics = write_metric_data(
        tmp_path,
        {
            "Namespace": "AWS/ApplicationELB",
            "MetricData": [
                {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": "-30s", "Value": 200},
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": dimensions,
                    "Timestamp": "-30s",
                    "Value": 100,
                },
            ],
        },
    )
    report_path = tmp_path / "report.json"

    # When it runs with the file
    result = subprocess.run(
        [TOLLGATE, "run", "--suite", str(suite), "--metric-data", str(metrics), "--report-json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then the seeded data decided: the check read a 50% 5xx rate and CodeDeploy recorded Failed
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["reportedStatus"] == "Failed"
    [reading] = report["stages"][0]["probes"]
    assert (reading["route"], reading["ok"], reading["value"]) == ("5xx-rate", False, 50.0), reading
