"""Metric data to seed the local CloudWatch with: put-metric-data JSON files, checked and cut to AWS's limits.

A file holds what `aws cloudwatch put-metric-data --cli-input-json` accepts (`Namespace` and `MetricData`), or a
JSON list of such documents. Two things differ from AWS, on purpose:

- a namespace may start with "AWS/" (AWS keeps those for its own services), so that an ALB's
  `AWS/ApplicationELB` metrics can be replayed;
- a `Timestamp` may also be relative to when the run started: "now", "-90s", "-5m", "-1h", "-2d".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from tollgate_core.contracts import MetricDimension

# AWS's limits for one PutMetricData request and its datums.
MAX_DATUMS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 1_000_000
MAX_VALUES_PER_DATUM = 150
MAX_DIMENSIONS = 30
MAX_NAME_LENGTH = 255
MAX_DIMENSION_VALUE_LENGTH = 1024
MAX_ABSOLUTE_VALUE = 2.0**360
OLDEST = timedelta(days=14)
NEWEST = timedelta(hours=2)
STORAGE_RESOLUTIONS = (1, 60)
# The local CloudWatch (moto) keeps every counted value as a datapoint of its own, and only whole counts.
MAX_COUNTED_VALUES = 100_000
MAX_PROBLEMS_SHOWN = 20

_RELATIVE_TIME = re.compile(r"^-(?P<amount>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_EPOCH_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DOCUMENT_FIELDS = ("Namespace", "MetricData")
_DATUM_FIELDS = (
    "MetricName",
    "Dimensions",
    "Timestamp",
    "Value",
    "Values",
    "Counts",
    "StatisticValues",
    "Unit",
    "StorageResolution",
)
_STATISTICS = ("SampleCount", "Sum", "Minimum", "Maximum")


class StatisticSet(TypedDict):
    SampleCount: float
    Sum: float
    Minimum: float
    Maximum: float


class MetricDatum(TypedDict):
    """One of PutMetricData's datums; its timestamp is always set (AWS would take the time it received it)."""

    MetricName: str
    Timestamp: datetime
    Dimensions: NotRequired[list[MetricDimension]]
    Value: NotRequired[float]
    Values: NotRequired[list[float]]
    Counts: NotRequired[list[float]]
    StatisticValues: NotRequired[StatisticSet]
    Unit: NotRequired[str]
    StorageResolution: NotRequired[int]


class PutMetricDataRequest(TypedDict):
    """The keyword arguments of one `put_metric_data` call, within AWS's limits."""

    Namespace: str
    MetricData: list[MetricDatum]


@dataclass(frozen=True)
class MetricDataBatch:
    """One PutMetricData call and where its datums came from ("metrics.json", or "metrics.json: [1]")."""

    source: str
    request: PutMetricDataRequest


class CloudWatch(Protocol):
    def put_metric_data(self, *, Namespace: str, MetricData: list[MetricDatum]) -> object: ...


class MetricDataError(ValueError):
    """Metric data that cannot be seeded; each problem names the file and the field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problems")
        super().__init__("\n".join(shown))


def load_metric_data(paths: Sequence[Path], run_started: datetime) -> list[MetricDataBatch]:
    """Read and check every file; raise MetricDataError naming every problem of every file."""
    batches: list[MetricDataBatch] = []
    problems: list[str] = []
    for path in paths:
        try:
            batches += parse_metric_data(_read_text(path), str(path), run_started)
        except MetricDataError as error:
            problems += error.problems
    if problems:
        raise MetricDataError(problems)
    return batches


def parse_metric_data(text: str, source: str, run_started: datetime) -> list[MetricDataBatch]:
    """The PutMetricData calls one file's text asks for, relative times taken from `run_started`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MetricDataError([f"{source}: not JSON: {error}"]) from None
    reader = _Reader(source, run_started)
    requests = [(where, reader.document(document, where)) for where, document in _documents(data, reader)]
    if reader.problems:
        raise MetricDataError(reader.problems)
    return [
        MetricDataBatch(f"{source}: {where}" if where else source, request)
        for where, document in requests
        if document is not None
        for request in put_metric_data_requests(*document)
    ]


def put_metric_data_requests(namespace: str, datums: Iterable[MetricDatum]) -> list[PutMetricDataRequest]:
    """The datums cut into requests CloudWatch accepts: at most 150 values a datum, 1000 datums and 1 MB a call."""
    requests: list[PutMetricDataRequest] = []
    size = 0
    for datum in (piece for whole in datums for piece in _pieces(whole)):
        datum_size = _encoded_size_at_most(datum)
        current = requests[-1]["MetricData"] if requests else None
        if current is None or len(current) == MAX_DATUMS_PER_REQUEST or size + datum_size > MAX_REQUEST_BYTES:
            requests.append({"Namespace": namespace, "MetricData": []})
            size = _encoded_size_at_most(namespace)
        requests[-1]["MetricData"].append(datum)
        size += datum_size
    return requests


def seed_metric_data(cloudwatch: CloudWatch, batches: Iterable[MetricDataBatch]) -> int:
    """Send every batch in order; return how many datums were sent."""
    sent = 0
    for batch in batches:
        try:
            cloudwatch.put_metric_data(**batch.request)
        except (BotoCoreError, ClientError) as error:
            raise MetricDataError([f"{batch.source}: CloudWatch refused the data: {error}"]) from None
        sent += len(batch.request["MetricData"])
    return sent


def _read_text(path: Path) -> str:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise MetricDataError([f"{path}: cannot read the file: {error.strerror}"]) from None
    if not content.strip():
        raise MetricDataError([f"{path}: the file is empty"])
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start})"
        raise MetricDataError([f"{path}: {problem}"]) from None


def _documents(data: Any, reader: _Reader) -> Iterator[tuple[str, Any]]:
    """A document, or each document of a list, with the field its problems are named under."""
    if not isinstance(data, list):
        yield "", data
        return
    if not data:
        reader.problem("(top level)", "an empty list; expected put-metric-data documents")
    for index, document in enumerate(data):
        yield f"[{index}]", document


def _pieces(datum: MetricDatum) -> Iterator[MetricDatum]:
    """A datum with more values than one datum may carry, as several datums that together say the same."""
    values = datum.get("Values")
    if values is None or len(values) <= MAX_VALUES_PER_DATUM:
        yield datum
        return
    counts = datum.get("Counts")
    for start in range(0, len(values), MAX_VALUES_PER_DATUM):
        piece: MetricDatum = {**datum, "Values": values[start : start + MAX_VALUES_PER_DATUM]}
        if counts is not None:
            piece["Counts"] = counts[start : start + MAX_VALUES_PER_DATUM]
        yield piece


def _encoded_size_at_most(value: Any) -> int:
    """An upper bound of the value's size in the CBOR body boto3 sends: 9 bytes of header per item at most."""
    if isinstance(value, str):
        return 9 + len(value.encode("utf-8"))
    if isinstance(value, dict):
        return 9 + sum(_encoded_size_at_most(key) + _encoded_size_at_most(item) for key, item in value.items())
    if isinstance(value, list):
        return 9 + sum(_encoded_size_at_most(item) for item in value)
    return 11  # a number, or a timestamp: a tag and an 8-byte double


@cache
def _units() -> tuple[str, ...]:
    import botocore.session  # the service model is CloudWatch's own list of units

    model = botocore.session.get_session().get_service_model("cloudwatch")
    units: list[str] = model.shape_for("StandardUnit").enum
    return tuple(units)


def _field(parent: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


def _quoted(value: Any) -> str:
    return json.dumps(value)


def _shown(number: float) -> str:
    if isinstance(number, int) and abs(number) > MAX_ABSOLUTE_VALUE:
        return f"a number of {len(str(abs(number)))} digits"
    return f"{number:g}"


class _Reader:
    """Reads one file's documents into requests, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, run_started: datetime) -> None:
        self.source = source
        self.run_started = run_started
        self.problems: list[str] = []

    def problem(self, field: str, problem: str) -> None:
        self.problems.append(f"{self.source}: {field}: {problem}")

    def document(self, raw: Any, where: str) -> tuple[str, list[MetricDatum]] | None:
        if not isinstance(raw, dict):
            self.problem(where or "(top level)", "must be an object with Namespace and MetricData")
            return None
        self._unknown_fields(raw, where, _DOCUMENT_FIELDS)
        namespace = self._namespace(raw.get("Namespace"), _field(where, "Namespace"))
        datums = self._datums(raw.get("MetricData"), _field(where, "MetricData"))
        if namespace is None or datums is None:
            return None
        return namespace, datums

    def _unknown_fields(self, raw: dict[str, Any], where: str, known: tuple[str, ...]) -> None:
        for key in raw:
            if key not in known:
                self.problem(_field(where, key), f"unknown field; expected {', '.join(known)}")

    def _namespace(self, raw: Any, field: str) -> str | None:
        name = self._name(raw, field, MAX_NAME_LENGTH)
        if name is not None and name.startswith(":"):
            self.problem(field, f"{_quoted(name)} may not start with ':'")
            return None
        return name

    def _name(self, raw: Any, field: str, max_length: int) -> str | None:
        if raw is None:
            self.problem(field, "missing")
            return None
        if not isinstance(raw, str):
            self.problem(field, f"must be a string, not {_quoted(raw)}")
            return None
        if not 1 <= len(raw) <= max_length:
            self.problem(field, f"must be 1 to {max_length} characters long, not {len(raw)}")
            return None
        return raw

    def _datums(self, raw: Any, field: str) -> list[MetricDatum] | None:
        if raw is None:
            self.problem(field, "missing")
            return None
        if not isinstance(raw, list) or not raw:
            self.problem(field, "must be a list of at least one datum")
            return None
        datums = [self._datum(item, _field(field, index)) for index, item in enumerate(raw)]
        return [datum for datum in datums if datum is not None]

    def _datum(self, raw: Any, field: str) -> MetricDatum | None:
        if not isinstance(raw, dict):
            self.problem(field, "must be an object with a MetricName and a Value, Values or StatisticValues")
            return None
        problems_before = len(self.problems)
        self._unknown_fields(raw, field, _DATUM_FIELDS)
        name = self._name(raw.get("MetricName"), _field(field, "MetricName"), MAX_NAME_LENGTH)
        timestamp = self._timestamp(raw.get("Timestamp"), _field(field, "Timestamp"))
        datum: MetricDatum = {"MetricName": name or "", "Timestamp": timestamp or self.run_started}
        if "Dimensions" in raw:
            datum["Dimensions"] = self._dimensions(raw["Dimensions"], _field(field, "Dimensions"))
        self._measurement(raw, field, datum)
        if "Unit" in raw:
            datum["Unit"] = self._unit(raw["Unit"], _field(field, "Unit"))
        if "StorageResolution" in raw:
            datum["StorageResolution"] = self._storage_resolution(
                raw["StorageResolution"], _field(field, "StorageResolution")
            )
        return datum if len(self.problems) == problems_before else None

    def _timestamp(self, raw: Any, field: str) -> datetime | None:
        if raw is None:
            return self.run_started
        moment = self._moment(raw)
        if moment is None:
            self.problem(field, f"{_quoted(raw)} is not a time (ISO 8601, epoch seconds, or now, -90s, -5m, -1h)")
            return None
        if moment < self.run_started - OLDEST or moment > self.run_started + NEWEST:
            self.problem(
                field,
                f"{_quoted(raw)} is {moment.isoformat()}; CloudWatch takes times from two weeks before "
                "the run started to two hours after",
            )
            return None
        return moment

    def _moment(self, raw: Any) -> datetime | None:
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int | float):
            return _from_epoch(raw)
        if not isinstance(raw, str):
            return None
        if raw == "now":
            return self.run_started
        relative = _RELATIVE_TIME.match(raw)
        if relative:
            seconds = float(relative["amount"]) * _SECONDS_PER_UNIT[relative["unit"]]
            return self.run_started - timedelta(seconds=seconds)
        if _EPOCH_SECONDS.match(raw):
            return _from_epoch(float(raw))
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # as the AWS CLI reads it

    def _dimensions(self, raw: Any, field: str) -> list[MetricDimension]:
        if not isinstance(raw, list) or len(raw) > MAX_DIMENSIONS:
            self.problem(field, f"must be a list of at most {MAX_DIMENSIONS} dimensions")
            return []
        dimensions = [self._dimension(item, _field(field, index)) for index, item in enumerate(raw)]
        return [dimension for dimension in dimensions if dimension is not None]

    def _dimension(self, raw: Any, field: str) -> MetricDimension | None:
        if not isinstance(raw, dict):
            self.problem(field, "must be an object with Name and Value")
            return None
        self._unknown_fields(raw, field, ("Name", "Value"))
        name = self._name(raw.get("Name"), _field(field, "Name"), MAX_NAME_LENGTH)
        value = self._name(raw.get("Value"), _field(field, "Value"), MAX_DIMENSION_VALUE_LENGTH)
        if name is None or value is None:
            return None
        return {"Name": name, "Value": value}

    def _measurement(self, raw: dict[str, Any], field: str, datum: MetricDatum) -> None:
        """Exactly one of Value, Values (with Counts) or StatisticValues."""
        given = [key for key in ("Value", "Values", "StatisticValues") if key in raw]
        if len(given) != 1:
            found = f"has {' and '.join(given)}" if given else "has none"
            self.problem(field, f"needs one of Value, Values or StatisticValues; {found}")
            return
        if "Counts" in raw and "Values" not in raw:
            self.problem(_field(field, "Counts"), "goes with Values")
        if "Value" in raw:
            datum["Value"] = self._number(raw["Value"], _field(field, "Value")) or 0.0
        elif "Values" in raw:
            self._values(raw, field, datum)
        else:
            datum["StatisticValues"] = self._statistic_set(raw["StatisticValues"], _field(field, "StatisticValues"))

    def _values(self, raw: dict[str, Any], field: str, datum: MetricDatum) -> None:
        values = self._numbers(raw["Values"], _field(field, "Values"))
        datum["Values"] = values
        if "Counts" not in raw:
            return
        counts_field = _field(field, "Counts")
        counts = self._numbers(raw["Counts"], counts_field)
        datum["Counts"] = counts
        if isinstance(raw["Values"], list) and isinstance(raw["Counts"], list):
            given, needed = len(raw["Counts"]), len(raw["Values"])
            if given != needed:
                self.problem(counts_field, f"has {given} counts for {needed} values; give one count per value")
        for index, count in enumerate(counts):
            if count < 0 or not count.is_integer():
                self.problem(
                    _field(counts_field, index), f"{count:g}: the local CloudWatch counts whole values, 0 or more"
                )
        if sum(counts) > MAX_COUNTED_VALUES:
            self.problem(
                counts_field,
                f"{sum(counts):g} values in all; the local CloudWatch keeps each counted value, at most "
                f"{MAX_COUNTED_VALUES} a datum: give a StatisticValues set instead",
            )

    def _numbers(self, raw: Any, field: str) -> list[float]:
        if not isinstance(raw, list) or not raw:
            self.problem(field, "must be a list of at least one number")
            return []
        numbers = [self._number(item, _field(field, index)) for index, item in enumerate(raw)]
        return [number for number in numbers if number is not None]

    def _number(self, raw: Any, field: str) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.problem(field, f"{_quoted(raw)} is not a number")
            return None
        if abs(raw) > MAX_ABSOLUTE_VALUE or not math.isfinite(raw):  # in this order: a huge int is no float
            self.problem(field, f"{_shown(raw)} is out of range: CloudWatch takes finite values from -2^360 to 2^360")
            return None
        return float(raw)

    def _statistic_set(self, raw: Any, field: str) -> StatisticSet:
        if not isinstance(raw, dict):
            self.problem(field, f"must be an object with {', '.join(_STATISTICS)}")
            return {"SampleCount": 0.0, "Sum": 0.0, "Minimum": 0.0, "Maximum": 0.0}
        self._unknown_fields(raw, field, _STATISTICS)
        sample_count, total, minimum, maximum = (self._statistic(raw, field, name) for name in _STATISTICS)
        if sample_count <= 0 and "SampleCount" in raw:
            self.problem(_field(field, "SampleCount"), "must be more than 0")
        if minimum > maximum:
            self.problem(field, f"Minimum {minimum:g} is more than Maximum {maximum:g}")
        return {"SampleCount": sample_count, "Sum": total, "Minimum": minimum, "Maximum": maximum}

    def _statistic(self, raw: dict[str, Any], field: str, name: str) -> float:
        if name not in raw:
            self.problem(_field(field, name), "missing")
            return 0.0
        return self._number(raw[name], _field(field, name)) or 0.0

    def _unit(self, raw: Any, field: str) -> str:
        if raw not in _units():
            self.problem(field, f"{_quoted(raw)} is not a CloudWatch unit ({', '.join(_units())})")
        return str(raw)

    def _storage_resolution(self, raw: Any, field: str) -> int:
        if isinstance(raw, bool) or raw not in STORAGE_RESOLUTIONS:
            self.problem(field, f"{_quoted(raw)}: must be 1 (high resolution) or 60")
            return 60
        return int(raw)


def _from_epoch(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
