"""Metric data files for `tollgate run --metric-data`: what they become, and what they are refused for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.serialize import create_serializer
from botocore.stub import Stubber

from tollgate.metric_data import (
    MAX_PROBLEMS_SHOWN,
    MetricDataBatch,
    MetricDataError,
    MetricDatum,
    PutMetricDataRequest,
    load_metric_data,
    parse_metric_data,
    put_metric_data_requests,
    seed_metric_data,
)
from tollgate_core.contracts import MetricDimension

RUN_STARTED = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
ALB: list[MetricDimension] = [
    {"Name": "LoadBalancer", "Value": "app/shop/50dc6c495c0c9188"},
    {"Name": "TargetGroup", "Value": "targetgroup/shop-green/73e2d6bc24d8a067"},
]


def document(*datums: Any, namespace: str = "AWS/ApplicationELB") -> dict[str, Any]:
    return {"Namespace": namespace, "MetricData": list(datums)}


def datum(**fields: Any) -> dict[str, Any]:
    """A datum of the ALB's request count; a field given as None is left out."""
    given = {"MetricName": "RequestCount", "Dimensions": ALB, "Value": 1, **fields}
    return {name: value for name, value in given.items() if value is not None}


def parsed(data: Any, source: str = "metrics.json") -> list[MetricDataBatch]:
    return parse_metric_data(json.dumps(data), source, RUN_STARTED)


def refused(data: Any) -> list[str]:
    with pytest.raises(MetricDataError) as raised:
        parsed(data)
    return raised.value.problems


def test_a_put_metric_data_document_becomes_one_request_as_boto3_takes_it() -> None:
    # Given an ALB's metrics as `aws cloudwatch put-metric-data --cli-input-json` takes them
    data = document(
        datum(Timestamp="2026-03-02T11:58:30Z", Value=120, Unit="Count", StorageResolution=60),
        datum(MetricName="TargetResponseTime", Timestamp=1772452710, Value=None, Values=[0.012, 0.4], Counts=[99, 1]),
        datum(
            MetricName="HTTPCode_Target_5XX_Count",
            Value=None,
            StatisticValues={"SampleCount": 3, "Sum": 3, "Minimum": 1, "Maximum": 1},
        ),
    )

    # When it is read
    batches = parsed(data)

    # Then one request carries every datum, in a namespace only AWS may use on AWS, timestamps as datetimes
    assert batches == [
        MetricDataBatch(
            "metrics.json",
            {
                "Namespace": "AWS/ApplicationELB",
                "MetricData": [
                    {
                        "MetricName": "RequestCount",
                        "Timestamp": datetime(2026, 3, 2, 11, 58, 30, tzinfo=UTC),
                        "Dimensions": ALB,
                        "Value": 120.0,
                        "Unit": "Count",
                        "StorageResolution": 60,
                    },
                    {
                        "MetricName": "TargetResponseTime",
                        "Timestamp": datetime(2026, 3, 2, 11, 58, 30, tzinfo=UTC),
                        "Dimensions": ALB,
                        "Values": [0.012, 0.4],
                        "Counts": [99.0, 1.0],
                    },
                    {
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Timestamp": RUN_STARTED,
                        "Dimensions": ALB,
                        "StatisticValues": {"SampleCount": 3.0, "Sum": 3.0, "Minimum": 1.0, "Maximum": 1.0},
                    },
                ],
            },
        )
    ]


@pytest.mark.parametrize(
    ("timestamp", "moment"),
    [
        ("now", RUN_STARTED),
        ("-90s", RUN_STARTED - timedelta(seconds=90)),
        ("-5m", RUN_STARTED - timedelta(minutes=5)),
        ("-1h", RUN_STARTED - timedelta(hours=1)),
        ("-1.5h", RUN_STARTED - timedelta(minutes=90)),
        ("-2d", RUN_STARTED - timedelta(days=2)),
        ("2026-03-02T11:30:00Z", datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),
        ("2026-03-02T11:30:00.250+00:00", datetime(2026, 3, 2, 11, 30, 0, 250000, tzinfo=UTC)),
        ("2026-03-02T03:30:00-08:00", datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),
        ("2026-03-02T11:30:00", datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),  # no zone: UTC, as the AWS CLI reads it
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        (1772451000, datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),
        (1772451000.5, datetime(2026, 3, 2, 11, 30, 0, 500000, tzinfo=UTC)),
        ("1772451000", datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),
    ],
)
def test_a_timestamp_is_absolute_as_the_aws_cli_reads_it_or_relative_to_the_start_of_the_run(
    timestamp: Any, moment: datetime
) -> None:
    [batch] = parsed(document(datum(Timestamp=timestamp)))

    assert batch.request["MetricData"][0]["Timestamp"] == moment


def test_a_list_of_documents_becomes_a_request_per_document_each_named_by_its_place() -> None:
    # Given two namespaces' data in one file
    data = [document(datum()), document(datum(MetricName="Orders"), namespace="Shop")]

    # When it is read
    batches = parsed(data)

    # Then each document is its own request, and says where it came from
    assert [(batch.source, batch.request["Namespace"]) for batch in batches] == [
        ("metrics.json: [0]", "AWS/ApplicationELB"),
        ("metrics.json: [1]", "Shop"),
    ]


def test_more_datums_than_a_request_takes_are_sent_in_requests_of_1000() -> None:
    data = document(*(datum(Value=n) for n in range(2500)))

    batches = parsed(data)

    assert [len(batch.request["MetricData"]) for batch in batches] == [1000, 1000, 500]
    values = [d["Value"] for batch in batches for d in batch.request["MetricData"]]
    assert values == [float(n) for n in range(2500)]  # in order, none lost


def test_more_than_150_values_become_datums_of_150_with_their_counts_alongside() -> None:
    values = [float(n) for n in range(400)]
    counts = [float(n % 7) for n in range(400)]

    [batch] = parsed(document(datum(MetricName="TargetResponseTime", Value=None, Values=values, Counts=counts)))

    pieces = batch.request["MetricData"]
    assert [len(piece["Values"]) for piece in pieces] == [150, 150, 100]
    assert [v for piece in pieces for v in piece["Values"]] == values
    assert [c for piece in pieces for c in piece["Counts"]] == counts
    assert {piece["MetricName"] for piece in pieces} == {"TargetResponseTime"}


def cbor_body_size(request: PutMetricDataRequest) -> int:
    """The size of the body boto3 sends for this request, serialized by botocore itself."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    serializer = create_serializer(model.metadata["protocol"])
    body: bytes = serializer.serialize_to_request(request, model.operation_model("PutMetricData"))["body"]
    return len(body)


def test_requests_stay_within_1_mb_as_boto3_encodes_them() -> None:
    # Given 1000 datums of 150 values and counts each: far more than 1 MB in one request
    datums = [datum(Value=None, Values=[n + 0.1] * 150, Counts=[3] * 150) for n in range(1000)]

    # When they are cut into requests
    batches = parsed(document(*datums))

    # Then every request's body is within AWS's limit, and every datum is sent once
    assert len(batches) > 1
    assert all(cbor_body_size(batch.request) <= 1_000_000 for batch in batches)
    assert sum(len(batch.request["MetricData"]) for batch in batches) == 1000


def test_the_cutting_is_the_same_for_datums_built_in_code() -> None:
    datums: list[MetricDatum] = [
        {"MetricName": "RequestCount", "Timestamp": RUN_STARTED, "Values": [1.0], "Counts": [2.0]} for _ in range(1001)
    ]

    requests = put_metric_data_requests("Shop", datums)

    assert [(r["Namespace"], len(r["MetricData"])) for r in requests] == [("Shop", 1000), ("Shop", 1)]


def aged(days: float) -> str:
    return (RUN_STARTED - timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (document(datum(Timestamp="-90x")), 'MetricData[0].Timestamp: "-90x" is not a time'),
        (document(datum(Timestamp="+5m")), 'MetricData[0].Timestamp: "+5m" is not a time'),
        (document(datum(Timestamp=True)), "MetricData[0].Timestamp: true is not a time"),
        (document(datum(Timestamp=1e300)), "MetricData[0].Timestamp: 1e+300 is not a time"),
        (
            document(datum(Timestamp=aged(15))),
            f'MetricData[0].Timestamp: "{aged(15)}" is 2026-02-15T12:00:00+00:00; CloudWatch takes times from '
            "two weeks before the run started to two hours after",
        ),
        (document(datum(Timestamp="-3h"), datum(Timestamp="-15d")), 'MetricData[1].Timestamp: "-15d" is 2026-02-15'),
        (
            document(datum(Timestamp=aged(-0.1))),
            f'MetricData[0].Timestamp: "{aged(-0.1)}" is 2026-03-02T14:24:00+00:00; CloudWatch takes times',
        ),
        (document(datum(MetricName="")), "MetricData[0].MetricName: must be 1 to 255 characters long, not 0"),
        (document(datum(MetricName=7)), "MetricData[0].MetricName: must be a string, not 7"),
        ({"MetricData": [datum()]}, "Namespace: missing"),
        (document(datum(), namespace=":x"), "Namespace: \":x\" may not start with ':'"),
        (document(), "MetricData: must be a list of at least one datum"),
        ({"Namespace": "Shop"}, "MetricData: missing"),
        ({**document(datum()), "EntityMetricData": []}, "EntityMetricData: unknown field; expected Namespace"),
        (document(datum(Valu=1)), "MetricData[0].Valu: unknown field; expected MetricName, Dimensions, Timestamp"),
        (document("RequestCount"), "MetricData[0]: must be an object with a MetricName"),
        (document(datum(Value="1")), 'MetricData[0].Value: "1" is not a number'),
        (document(datum(Value=float("nan"))), "MetricData[0].Value: nan is out of range"),
        (document(datum(Value=2.0**361)), "MetricData[0].Value: 4.69709e+108 is out of range"),
        (document(datum(Value=-(10**400))), "MetricData[0].Value: a number of 401 digits is out of range"),
        (document(datum(Values=[1])), "MetricData[0]: needs one of Value, Values or StatisticValues; has Value and"),
        (document({"MetricName": "X"}), "MetricData[0]: needs one of Value, Values or StatisticValues; has none"),
        (document(datum(Counts=[1])), "MetricData[0].Counts: goes with Values"),
        (document(datum(Value=None, Values=[])), "MetricData[0].Values: must be a list of at least one number"),
        (document(datum(Value=None, Values=[1, None])), "MetricData[0].Values[1]: null is not a number"),
        (
            document(datum(Value=None, Values=[1, 2], Counts=[1])),
            "MetricData[0].Counts: has 1 counts for 2 values; give one count per value",
        ),
        (
            document(datum(Value=None, Values=[1], Counts=[0.5])),
            "MetricData[0].Counts[0]: 0.5: the local CloudWatch counts whole values, 0 or more",
        ),
        (document(datum(Value=None, Values=[1], Counts=[-1])), "MetricData[0].Counts[0]: -1: the local CloudWatch"),
        (
            document(datum(Value=None, Values=[1, 2], Counts=[60000, 60000])),
            "MetricData[0].Counts: 120000 values in all; the local CloudWatch keeps each counted value",
        ),
        (document(datum(Value=None, StatisticValues=[1])), "MetricData[0].StatisticValues: must be an object with"),
        (
            document(datum(Value=None, StatisticValues={"SampleCount": 1, "Sum": 1, "Minimum": 1})),
            "MetricData[0].StatisticValues.Maximum: missing",
        ),
        (
            document(datum(Value=None, StatisticValues={"SampleCount": 0, "Sum": 0, "Minimum": 0, "Maximum": 0})),
            "MetricData[0].StatisticValues.SampleCount: must be more than 0",
        ),
        (
            document(datum(Value=None, StatisticValues={"SampleCount": 2, "Sum": 3, "Minimum": 2, "Maximum": 1})),
            "MetricData[0].StatisticValues: Minimum 2 is more than Maximum 1",
        ),
        (document(datum(Unit="count")), 'MetricData[0].Unit: "count" is not a CloudWatch unit (Seconds, Microseconds'),
        (document(datum(StorageResolution=30)), "MetricData[0].StorageResolution: 30: must be 1 (high resolution)"),
        (document(datum(Dimensions={"Name": "x"})), "MetricData[0].Dimensions: must be a list of at most 30"),
        (document(datum(Dimensions=[{"Name": "x"}])), "MetricData[0].Dimensions[0].Value: missing"),
        (
            document(datum(Dimensions=[{"Name": "x", "Value": "v" * 1025}])),
            "MetricData[0].Dimensions[0].Value: must be 1 to 1024 characters long, not 1025",
        ),
        (
            document(datum(Dimensions=[{"Name": f"d{n}", "Value": "v"} for n in range(31)])),
            "MetricData[0].Dimensions: must be a list of at most 30 dimensions",
        ),
        ("RequestCount", "(top level): must be an object with Namespace and MetricData"),
        ([], "(top level): an empty list; expected put-metric-data documents"),
        ([document(datum()), document(datum(Timestamp="-90x"))], '[1].MetricData[0].Timestamp: "-90x" is not a time'),
        ([document(datum()), 3], "[1]: must be an object with Namespace and MetricData"),
    ],
)
def test_each_problem_names_the_file_and_the_field(data: Any, problem: str) -> None:
    problems = refused(data)

    assert any(p.startswith(f"metrics.json: {problem}") for p in problems), problems


def test_every_problem_of_a_file_is_named_and_a_long_list_is_cut_short() -> None:
    data = document(*(datum(Timestamp=f"-{n}x") for n in range(25)))

    with pytest.raises(MetricDataError) as raised:
        parsed(data)

    assert len(raised.value.problems) == 25
    lines = str(raised.value).splitlines()
    assert lines[:2] == [
        'metrics.json: MetricData[0].Timestamp: "-0x" is not a time (ISO 8601, epoch seconds, or now, -90s, -5m, -1h)',
        'metrics.json: MetricData[1].Timestamp: "-1x" is not a time (ISO 8601, epoch seconds, or now, -90s, -5m, -1h)',
    ]
    assert lines[MAX_PROBLEMS_SHOWN:] == ["... and 5 more problems"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b'{"Namespace": "Shop",',
            "not JSON: Expecting property name enclosed in double quotes: line 1 column 22 (char 21)",
        ),
        (b"", "the file is empty"),
        (b" \n", "the file is empty"),
        (b'{"Namespace": "\xff"}', "not UTF-8 text (byte 0xff at offset 15)"),
    ],
)
def test_a_file_that_holds_no_readable_json_is_named_with_its_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "metrics.json"
    path.write_bytes(content)

    with pytest.raises(MetricDataError) as raised:
        load_metric_data([path], RUN_STARTED)

    assert str(raised.value) == f"{path}: {problem}"


def test_the_problems_of_every_file_are_named_together(tmp_path: Path) -> None:
    # Given a good file, a bad one, and one that does not exist
    good, bad, missing = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "missing.json"
    good.write_text(json.dumps(document(datum())), encoding="utf-8")
    bad.write_text(json.dumps(document(datum(Timestamp="-90x"))), encoding="utf-8")

    # When they are read together
    with pytest.raises(MetricDataError) as raised:
        load_metric_data([good, bad, missing], RUN_STARTED)

    # Then each bad one is named, with its problem
    assert raised.value.problems == [
        f'{bad}: MetricData[0].Timestamp: "-90x" is not a time (ISO 8601, epoch seconds, or now, -90s, -5m, -1h)',
        f"{missing}: cannot read the file: No such file or directory",
    ]


def test_files_are_read_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(document(datum(Value=1))), encoding="utf-8")
    second.write_text(json.dumps([document(datum(Value=2)), document(datum(Value=3))]), encoding="utf-8")

    batches = load_metric_data([first, second], RUN_STARTED)

    assert [(b.source, b.request["MetricData"][0].get("Value")) for b in batches] == [
        (str(first), 1.0),
        (f"{second}: [0]", 2.0),
        (f"{second}: [1]", 3.0),
    ]


@pytest.fixture
def cloudwatch() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stubber:
        yield client, stubber


def test_seeding_sends_every_request_and_counts_the_datums(cloudwatch: tuple[Any, Stubber]) -> None:
    client, stubber = cloudwatch
    batches = parsed([document(datum(), datum()), document(datum(), namespace="Shop")])
    for batch in batches:
        stubber.add_response("put_metric_data", {}, dict(batch.request))

    sent = seed_metric_data(client, batches)

    assert sent == 3
    stubber.assert_no_pending_responses()


def test_data_cloudwatch_refuses_is_named_by_its_file_and_document(cloudwatch: tuple[Any, Stubber]) -> None:
    client, stubber = cloudwatch
    stubber.add_client_error("put_metric_data", "InvalidParameterValue", "The value for Namespace is invalid")

    with pytest.raises(MetricDataError) as raised:
        seed_metric_data(client, parsed([document(datum())]))

    assert str(raised.value) == (
        "metrics.json: [0]: CloudWatch refused the data: An error occurred (InvalidParameterValue) when calling "
        "the PutMetricData operation: The value for Namespace is invalid"
    )
