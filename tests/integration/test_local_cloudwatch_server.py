"""CloudWatch on the engine's moto: a real boto3 client, through the edge, gets CloudWatch's answers.

The module wires what the engine wires: an edge, the patched moto behind it, and an external Step Functions
API (here a recording stand-in), so CloudWatch and Secrets Manager calls must reach moto and Step Functions
calls the external API.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tollgate.engine.cloudformation import LocalCloudFormation, app_stack
from tollgate.engine.codedeploy import LocalCodeDeploy
from tollgate.engine.edge import Edge
from tollgate.engine.lambda_runtime import LambdaRuntime
from tollgate.engine.moto_server import PINNED_MOTO_VERSION, UNPINNED_MOTO_EXIT_CODE, start_moto_server
from tollgate.engine.stack import REGION
from tollgate.engine.template import load_app
from tollgate.loopback import LoopbackServer

REPOSITORY = Path(__file__).resolve().parents[2]
ALB = "AWS/ApplicationELB"
MINUTE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class RecordingStepFunctions:
    """Stands in for an external Step Functions API: answers ListStateMachines, records every target."""

    targets: list[str] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.targets.append(self.headers.get("X-Amz-Target", ""))
                body = json.dumps({"stateMachines": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="module")
def step_functions() -> Iterator[tuple[RecordingStepFunctions, str]]:
    recorder = RecordingStepFunctions()
    server = LoopbackServer(recorder.handler(), "external-step-functions")
    server.start()
    yield recorder, server.url
    server.stop()


@pytest.fixture(scope="module")
def edge(
    step_functions: tuple[RecordingStepFunctions, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Edge]:
    """An edge whose Step Functions API is external and whose moto is the patched one, as the engine wires them."""
    with (tmp_path_factory.mktemp("local-cloudwatch") / "engine.log").open("ab") as log:
        edge = Edge(
            lambda url: LambdaRuntime({}, url, log),
            LocalCodeDeploy(),
            LocalCloudFormation(app_stack(load_app(REPOSITORY / "template.yaml"))),
            sfn_endpoint=step_functions[1],
        )
        edge.start()
        moto = start_moto_server(lambda_endpoint_port=edge.port, log=log)
        edge.moto_url = moto.url
        try:
            yield edge
        finally:
            moto.stop()
            edge.runtime.stop()
            edge.stop()


def client(edge: Edge, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=edge.url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def target_group(load_balancer: str) -> list[dict[str, str]]:
    return [
        {"Name": "TargetGroup", "Value": f"targetgroup/green/{load_balancer}"},
        {"Name": "LoadBalancer", "Value": f"app/{load_balancer}/50dc6c495c0c9188"},
    ]


def metric_stat(query_id: str, name: str, stat: str, load_balancer: str, **extra: Any) -> dict[str, Any]:
    metric = {"Namespace": ALB, "MetricName": name, "Dimensions": target_group(load_balancer)}
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}, **extra}


def metric_data(edge: Edge, queries: list[dict[str, Any]]) -> dict[str, list[tuple[datetime, float]]]:
    """Each returned query's (timestamp, value) pairs, in the order CloudWatch returned them."""
    response = client(edge, "cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=MINUTE, EndTime=MINUTE + timedelta(minutes=5)
    )
    return {
        result["Id"]: list(zip(result["Timestamps"], result["Values"], strict=True))
        for result in response["MetricDataResults"]
    }


def test_percentiles_of_latencies_put_as_values_with_counts_and_as_single_values(edge: Edge) -> None:
    cloudwatch = client(edge, "cloudwatch")
    dimensions = target_group("latency")
    # Given a first minute of 100 requests: 90 at 50 ms, 8 at 200 ms, 2 at 1.5 s (Values with Counts)
    cloudwatch.put_metric_data(
        Namespace=ALB,
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": dimensions,
                "Timestamp": MINUTE + timedelta(seconds=5),
                "Values": [0.05, 0.2, 1.5],
                "Counts": [90, 8, 2],
                "Unit": "Seconds",
            }
        ],
    )
    # And a second minute of three requests put one Value at a time: 300 ms, 100 ms, 200 ms
    for value in (0.3, 0.1, 0.2):
        cloudwatch.put_metric_data(
            Namespace=ALB,
            MetricData=[
                {
                    "MetricName": "TargetResponseTime",
                    "Dimensions": dimensions,
                    "Timestamp": MINUTE + timedelta(seconds=70),
                    "Value": value,
                    "Unit": "Seconds",
                }
            ],
        )

    # When p99, p98 and p50 per minute are asked for, oldest first
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[metric_stat(stat, "TargetResponseTime", stat, "latency") for stat in ("p99", "p98", "p50")],
        StartTime=MINUTE,
        EndTime=MINUTE + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )

    # Then each is the nearest rank: the 99th of 100 is 1.5 s, the 98th 200 ms, the 50th 50 ms;
    # of three values, p99 is the 3rd (300 ms) and p50 the 2nd (200 ms)
    values = {result["Id"]: result["Values"] for result in response["MetricDataResults"]}
    assert values == {"p99": [1.5, 0.3], "p98": [0.2, 0.3], "p50": [0.05, 0.2]}
    timestamps = response["MetricDataResults"][0]["Timestamps"]
    assert timestamps == [MINUTE, MINUTE + timedelta(minutes=1)]
    assert response["MetricDataResults"][0]["Label"] == "TargetResponseTime"


def test_a_5xx_rate_expression_newest_first(edge: Edge) -> None:
    cloudwatch = client(edge, "cloudwatch")
    dimensions = target_group("rate")
    # Given 200 then 100 requests in two minutes, and 2 target 5xx errors in the first only
    puts = [("RequestCount", 0, 200.0), ("RequestCount", 60, 100.0), ("HTTPCode_Target_5XX_Count", 0, 2.0)]
    for name, seconds, value in puts:
        cloudwatch.put_metric_data(
            Namespace=ALB,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": MINUTE + timedelta(seconds=seconds),
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )

    # When the 5xx rate is asked for, with the metrics themselves not returned
    results = metric_data(
        edge,
        [
            metric_stat("errors", "HTTPCode_Target_5XX_Count", "Sum", "rate", ReturnData=False),
            metric_stat("requests", "RequestCount", "Sum", "rate", ReturnData=False),
            {"Id": "rate", "Expression": "100 * FILL(errors, 0) / requests", "Label": "5xx %"},
        ],
    )

    # Then 2 / 200 = 1 % and 0 / 100 = 0 %, newest first; the minutes without requests are dropped
    assert results == {"rate": [(MINUTE + timedelta(minutes=1), 0.0), (MINUTE, 1.0)]}


def test_a_query_sees_only_its_own_namespace_and_exact_dimensions(edge: Edge) -> None:
    cloudwatch = client(edge, "cloudwatch")
    dimensions = target_group("exact")
    # Given the target group's own datum, one in another namespace, and one with a third dimension
    puts = [
        (ALB, dimensions, 1.0),
        ("Tollgate/Probes", dimensions, 10.0),
        (ALB, [*dimensions, {"Name": "AvailabilityZone", "Value": "us-east-1a"}], 100.0),
    ]
    for namespace, metric_dimensions, value in puts:
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": "RequestCount", "Dimensions": metric_dimensions, "Timestamp": MINUTE, "Value": value}
            ],
        )

    # When its requests are summed / Then only its own datum counts
    assert metric_data(edge, [metric_stat("requests", "RequestCount", "Sum", "exact")]) == {"requests": [(MINUTE, 1.0)]}


def test_a_statistic_set_gives_sums_but_no_percentile(edge: Edge) -> None:
    # Given a statistic set of 4 requests between 100 ms and 900 ms
    client(edge, "cloudwatch").put_metric_data(
        Namespace=ALB,
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": target_group("summary"),
                "Timestamp": MINUTE,
                "StatisticValues": {"SampleCount": 4, "Sum": 1.6, "Minimum": 0.1, "Maximum": 0.9},
            }
        ],
    )

    # When its Sum and p99 are asked for / Then the Sum has a datapoint and the percentile none
    results = metric_data(
        edge,
        [
            metric_stat("total", "TargetResponseTime", "Sum", "summary"),
            metric_stat("p99", "TargetResponseTime", "p99", "summary"),
        ],
    )
    assert results == {"total": [(MINUTE, 1.6)], "p99": []}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"Id": "e", "Expression": "SUM(METRICS())"}, "got 'SUM('"),
        (metric_stat("m", "TargetResponseTime", "tm99", "refused"), "statistic 'tm99' is not served locally"),
    ],
)
def test_an_unsupported_query_is_a_validation_error_not_a_server_error(
    edge: Edge, query: dict[str, Any], reason: str
) -> None:
    # When GetMetricData holds a query outside what the engine serves
    with pytest.raises(ClientError) as raised:
        metric_data(edge, [metric_stat("m1", "RequestCount", "Sum", "refused"), query])

    # Then the client gets CloudWatch's 400 ValidationError, naming the reason
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert reason in error["Error"]["Message"]


def test_step_functions_calls_go_to_the_external_api_and_the_rest_to_moto(
    edge: Edge, step_functions: tuple[RecordingStepFunctions, str]
) -> None:
    recorder, _ = step_functions
    recorder.targets.clear()

    # When a Step Functions call and a Secrets Manager call go through the edge
    assert client(edge, "stepfunctions").list_state_machines()["stateMachines"] == []
    client(edge, "secretsmanager").create_secret(Name="tollgate/routing", SecretString="s3cret")

    # Then only the Step Functions call reached the external API, and moto holds the secret
    assert recorder.targets == ["AWSStepFunctions.ListStateMachines"]
    assert client(edge, "secretsmanager").get_secret_value(SecretId="tollgate/routing")["SecretString"] == "s3cret"


def test_the_moto_the_patch_is_written_for_is_the_one_constraints_pins() -> None:
    pins = re.findall(r"^moto==(\S+)$", (REPOSITORY / "constraints.txt").read_text("utf-8"), re.MULTILINE)

    assert pins == [PINNED_MOTO_VERSION]


def test_another_moto_version_refuses_to_start() -> None:
    # Given moto reports a version other than the pinned one
    pretend = "import moto; moto.__version__ = '5.2.4'; from tollgate.engine.moto_main import main; main()"

    # When the patched server's entry point starts
    finished = subprocess.run(
        [sys.executable, "-c", pretend], capture_output=True, text=True, timeout=60, check=False, cwd=REPOSITORY
    )

    # Then it exits with its own code and says which versions differ
    assert finished.returncode == UNPINNED_MOTO_EXIT_CODE
    assert f"moto 5.2.4 is installed, but Tollgate's GetMetricData patch is written for moto {PINNED_MOTO_VERSION}" in (
        finished.stderr
    )
