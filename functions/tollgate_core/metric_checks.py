"""A suite's metric checks: the rules between their fields, and their normalized form.

The JSON schema checks each field alone; what a check measures decides which other fields it needs,
so those rules live here and name the field each problem is about.
"""

from __future__ import annotations

from typing import Any, cast

from tollgate_core.contracts import (
    CheckKind,
    MetricCheck,
    MetricDataQuery,
    MetricMeasure,
    MetricThreshold,
    NoDataPolicy,
)
from tollgate_core.metric_math import expression_problem

DEFAULT_LOOKBACK_SECONDS = 300
DEFAULT_LATENCY_STAT = "p99"
DEFAULT_MIN_REQUESTS = 1
CURRENT_MINUTE_SECONDS = 60  # a reading's window is lookbackSeconds before the current minute, and that minute
MEASURES = tuple(MetricMeasure)
# CloudWatch's high-resolution periods; any other period is a whole number of minutes.
_HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


def metric_check_problems(check: dict[str, Any], field: str) -> list[str]:
    """What keeps a schema-valid metric check from being judged; empty when it can be."""
    measures = [measure for measure in MEASURES if measure in check]
    if len(measures) != 1:
        found = ", ".join(measures) or "none"
        return [f"{field}: give exactly one of errorRatePercent, latencyMs or query (found: {found})"]
    measure = measures[0]
    if measure is MetricMeasure.QUERY:
        return _query_check_problems(check, field)
    return _target_group_check_problems(check, measure, field)


def _target_group_check_problems(check: dict[str, Any], measure: MetricMeasure, field: str) -> list[str]:
    problems = [
        f"{field}.{key}: only a query check has {key}; put it in {measure}" for key in ("max", "min") if key in check
    ]
    if "alb" not in check:
        problems.append(f"{field}.alb: {measure} reads a target group's metrics; name its loadBalancer and targetGroup")
    return problems + _threshold_problems(check[measure], f"{field}.{measure}")


def _query_check_problems(check: dict[str, Any], field: str) -> list[str]:
    problems = [
        f"{field}.{key}: a query check reads only its queries; {key} is for errorRatePercent and latencyMs"
        for key in ("alb", "minRequests")
        if key in check
    ]
    problems += _threshold_problems(check, field)
    return problems + query_problems(check["query"], check.get("lookbackSeconds", DEFAULT_LOOKBACK_SECONDS), field)


def _threshold_problems(bounds: dict[str, Any], field: str) -> list[str]:
    if "max" not in bounds and "min" not in bounds:
        return [f"{field}: give a max, a min or both"]
    if "max" in bounds and "min" in bounds and bounds["min"] > bounds["max"]:
        return [f"{field}: min {bounds['min']} is above max {bounds['max']}; no value could pass"]
    return []


def query_problems(queries: list[dict[str, Any]], lookback_seconds: int, field: str) -> list[str]:
    """GetMetricData's rules for the queries of one request, and Tollgate's: exactly one series is judged."""
    problems: list[str] = []
    ids = [query["Id"] for query in queries]
    for index, query in enumerate(queries):
        where = f"{field}.query[{index}]"
        if ids.index(query["Id"]) != index:
            problems.append(f"{where}.Id: {query['Id']!r} is used twice")
        problems += _one_query_problems(
            query, [other for other in ids if other != query["Id"]], lookback_seconds, where
        )
    returning = [query["Id"] for query in queries if query.get("ReturnData", True)]
    if len(returning) != 1:
        named = ", ".join(returning) or "none"
        problems.append(
            f"{field}.query: exactly one query must return data, the series judged; set ReturnData: false on "
            f"the others (returning data: {named})"
        )
    return problems


def _one_query_problems(query: dict[str, Any], other_ids: list[str], lookback_seconds: int, where: str) -> list[str]:
    if ("MetricStat" in query) == ("Expression" in query):
        return [f"{where}: give exactly one of MetricStat or Expression"]
    if "Expression" in query:
        problem = expression_problem(query["Expression"], other_ids)
        return [f"{where}.Expression: {problem}"] if problem else []
    period = query["MetricStat"]["Period"]
    if period not in _HIGH_RESOLUTION_PERIODS and period % 60:
        return [f"{where}.MetricStat.Period: {period} must be 1, 5, 10, 20, 30 or a multiple of 60"]
    window = lookback_seconds + CURRENT_MINUTE_SECONDS
    if period > window:
        return [
            f"{where}.MetricStat.Period: {period} s is longer than the window ({window} s: lookbackSeconds "
            f"{lookback_seconds} and the current minute); no whole period would fit in it"
        ]
    return []


def normalized_metric_check(check: dict[str, Any]) -> MetricCheck:
    """A checked metric check with every default filled in, in the one shape the metric reader reads."""
    measure = next(measure for measure in MEASURES if measure in check)
    normalized: dict[str, Any] = {
        "kind": CheckKind.METRIC,
        "name": check["name"],
        "measure": measure,
        "lookbackSeconds": check.get("lookbackSeconds", DEFAULT_LOOKBACK_SECONDS),
        "noData": NoDataPolicy(check.get("noData", NoDataPolicy.FAIL)),
    }
    if measure is MetricMeasure.QUERY:
        normalized["threshold"] = _threshold(check)
        normalized["query"] = cast(list[MetricDataQuery], check["query"])
    else:
        normalized["threshold"] = _threshold(check[measure])
        normalized["alb"] = check["alb"]
        normalized["minRequests"] = check.get("minRequests", DEFAULT_MIN_REQUESTS)
        if measure is MetricMeasure.LATENCY:
            normalized["stat"] = check[measure].get("stat", DEFAULT_LATENCY_STAT)
    return cast(MetricCheck, normalized)


def _threshold(bounds: dict[str, Any]) -> MetricThreshold:
    threshold: MetricThreshold = {}
    if "max" in bounds:
        threshold["max"] = bounds["max"]
    if "min" in bounds:
        threshold["min"] = bounds["min"]
    return threshold
