"""A stage's checks: its routes, then its metric checks, in the one list the workflow's Map runs."""

from __future__ import annotations

from tollgate_core.contracts import Check, CheckKind, MetricCheck, Route, Stage


def routes_of(stage: Stage) -> list[Route]:
    return [check for check in stage["checks"] if check["kind"] == CheckKind.ROUTE]


def metrics_of(stage: Stage) -> list[MetricCheck]:
    return [check for check in stage["checks"] if check["kind"] == CheckKind.METRIC]


def check_count(stages: list[Stage]) -> tuple[int, int]:
    """(routes, metric checks) over all stages."""
    routes = sum(len(routes_of(stage)) for stage in stages)
    return routes, sum(len(stage["checks"]) for stage in stages) - routes


def is_metric(check: Check) -> bool:
    return check["kind"] == CheckKind.METRIC
