"""What dashboards count: validations started and decided, time to verdict and probes, as CloudWatch embedded metrics.

Every metric has one dimension, LifecycleEvent (a CodeDeploy lifecycle event or an ECS lifecycle stage), so the
number of metrics stays bounded whatever the suites hold. Route names, ids and reasons go in the document's
properties: CloudWatch Logs Insights can query them, and they never become metrics.

Each validation adds 1 to exactly one of ValidationsPassed, ValidationsFailed and WouldHaveFailed, so once every
validation has ended, ValidationsStarted is their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import Deployment, EcsDeployment, HookStatus, Progress
from tollgate_core.observability import logger, metrics

LIFECYCLE_EVENT = "LifecycleEvent"
UNKNOWN_LIFECYCLE_EVENT = "unknown"
# One EMF document is one log event, at most 256 KB: the routes property lists the ones that matter most.
MAX_ROUTES_IN_PROPERTIES = 100


class ValidationMetric(StrEnum):
    STARTED = "ValidationsStarted"  # a hook started an execution (ECS: at its first invocation)
    PASSED = "ValidationsPassed"  # the verdict is Succeeded, a dry run's included
    FAILED = "ValidationsFailed"  # the deployment received Failed, from the workflow or the safety net
    WOULD_HAVE_FAILED = "WouldHaveFailed"  # a dry run's verdict is Failed; the deployment received Succeeded
    TIME_TO_VERDICT = "TimeToVerdict"  # from the execution's start to the verdict, in seconds
    PROBES_RUN = "ProbesRun"  # probes and metric readings judged in the validation
    PROBES_FAILED = "ProbesFailed"  # of those, the ones that failed
    PROBE_LATENCY = "ProbeLatency"  # one value per route and stage: its mean latency in the validation


@dataclass(frozen=True)
class DecidedValidation:
    """A validation's end, as the reporter or the safety net saw it."""

    deployment: Deployment | EcsDeployment
    verdict: HookStatus
    reason: str | None
    dry_run: bool
    progress: Progress | None  # None for the safety net: an execution that ended badly keeps no progress
    started_at: datetime | None
    execution_arn: str | None


@dataclass(frozen=True)
class RouteMeasurement:
    """One route's probes in one stage, as the properties of the verdict's metrics list them."""

    stage: str
    route: str
    probes: int
    failed: int
    mean_latency_ms: float | None  # None for a metric check, which measures no latency

    def as_property(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "route": self.route,
            "probes": self.probes,
            "failed": self.failed,
            "meanLatencyMs": self.mean_latency_ms,
        }


def record_started(lifecycle_event: str, execution_arn: str | None) -> None:
    """Count a validation a hook started; never raises, as a metric must never cost a deployment its validation."""
    try:
        metrics.add_dimension(LIFECYCLE_EVENT, lifecycle_event or UNKNOWN_LIFECYCLE_EVENT)
        metrics.add_metadata("executionArn", execution_arn)
        metrics.add_metric(ValidationMetric.STARTED, MetricUnit.Count, 1)
    except Exception:  # noqa: BLE001 - the validation has started; only its count is lost
        logger.exception("cannot record the validation's start", extra={"executionArn": execution_arn})


def record_decided(validation: DecidedValidation, now: datetime) -> None:
    """Count a verdict, its time and its probes; never raises, as a metric must never cost a deployment its status."""
    try:
        _record_decided(validation, now)
    except Exception:  # noqa: BLE001 - the status has been sent; only its metrics are lost
        logger.exception("cannot record the verdict's metrics", extra={"executionArn": validation.execution_arn})


def _record_decided(validation: DecidedValidation, now: datetime) -> None:
    # The dimension and the scalar properties first: Powertools prints a document every 100 values of a metric.
    metrics.add_dimension(LIFECYCLE_EVENT, lifecycle_event_of(validation.deployment))
    for key, value in _properties(validation).items():
        metrics.add_metadata(key, value)
    metrics.add_metric(outcome_metric(validation.verdict, validation.dry_run), MetricUnit.Count, 1)
    seconds = seconds_between(validation.started_at, now)
    if seconds is not None:
        metrics.add_metric(ValidationMetric.TIME_TO_VERDICT, MetricUnit.Seconds, seconds)
    routes = route_measurements(validation.progress)
    if routes is None:
        return
    metrics.add_metric(ValidationMetric.PROBES_RUN, MetricUnit.Count, sum(route.probes for route in routes))
    metrics.add_metric(ValidationMetric.PROBES_FAILED, MetricUnit.Count, sum(route.failed for route in routes))
    for route in routes:
        if route.mean_latency_ms is not None:
            metrics.add_metric(ValidationMetric.PROBE_LATENCY, MetricUnit.Milliseconds, route.mean_latency_ms)
    listed = sorted(routes, key=lambda route: (-route.failed, -(route.mean_latency_ms or 0)))
    metrics.add_metadata("routes", [route.as_property() for route in listed[:MAX_ROUTES_IN_PROPERTIES]])
    if len(listed) > MAX_ROUTES_IN_PROPERTIES:
        metrics.add_metadata("routesOmitted", len(listed) - MAX_ROUTES_IN_PROPERTIES)


def outcome_metric(verdict: HookStatus, dry_run: bool) -> ValidationMetric:
    """The one outcome a validation counts in: a dry run that failed blocked nothing, so it is not a failure."""
    if verdict == HookStatus.SUCCEEDED:
        return ValidationMetric.PASSED
    return ValidationMetric.WOULD_HAVE_FAILED if dry_run else ValidationMetric.FAILED


def lifecycle_event_of(deployment: Deployment | EcsDeployment) -> str:
    """The CodeDeploy lifecycle event or the ECS lifecycle stage the validation gated."""
    value = deployment.get("lifecycleEvent") or deployment.get("lifecycleStage")
    return value if isinstance(value, str) and value else UNKNOWN_LIFECYCLE_EVENT


def route_measurements(progress: Progress | None) -> list[RouteMeasurement] | None:
    """Every route of every stage that ran, or None when the progress is missing or unreadable."""
    if not progress:
        return None
    try:
        return [
            RouteMeasurement(
                stage=stage["name"],
                route=route["route"],
                probes=int(route["probes"]),
                failed=int(route["failed"]),
                mean_latency_ms=_mean(route["latencyMs"]),
            )
            for stage in progress["stages"]
            for route in stage["routes"]
        ]
    except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return None


def _mean(latency: Any) -> float | None:
    if not latency or not latency["count"]:
        return None
    return round(float(latency["sum"]) / int(latency["count"]), 1)


def seconds_between(started_at: datetime | None, now: datetime) -> float | None:
    """Seconds from the start to now; None without a start, or for a start ahead of this clock."""
    if started_at is None:
        return None
    seconds = (now - started_at).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None


def parse_start_time(value: Any) -> datetime | None:
    """An execution's start as Step Functions' context object gives it (ISO 8601), or None."""
    if not isinstance(value, str):
        return None
    try:
        started = datetime.fromisoformat(value)
    except ValueError:
        return None
    return started if started.tzinfo else started.replace(tzinfo=UTC)


def start_time_from_millis(value: Any) -> datetime | None:
    """An execution's start as its status-change event gives it (milliseconds since the epoch), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _properties(validation: DecidedValidation) -> dict[str, Any]:
    deployment = validation.deployment
    arn = validation.execution_arn
    return {
        "executionArn": arn,
        "consoleUrl": execution_console_url(arn) if arn else None,
        "deploymentId": deployment.get("deploymentId") or deployment.get("executionId"),
        "status": validation.verdict,
        "dryRun": validation.dry_run,
        "reason": validation.reason,
    }
