"""How long a suite can take at worst, checked against the lifecycle hook's time budget."""

from __future__ import annotations

import math

from tollgate_core.backoff import delay_bound_seconds
from tollgate_core.contracts import Check, CheckKind, Route, Stage, SuiteDocument
from tollgate_core.function_invocation import INVOKE_CONNECT_TIMEOUT_SECONDS, invoke_timeout_seconds

# CodeDeploy fails a hook that has not reported within an hour; keep a margin for reporting.
DEFAULT_HOOK_BUDGET_SECONDS = 55 * 60
# The metric reader function's timeout (template.yaml): a reading never takes longer.
METRIC_READING_WORST_CASE_SECONDS = 60.0


def probe_worst_case_seconds(route: Route, timeout_seconds: float) -> float:
    """Every attempt times out and every retry waits its full backoff."""
    attempts = route["retry"]["maxAttempts"]
    waits = sum(delay_bound_seconds(route["retry"], n) for n in range(1, attempts))
    return float(attempts * attempt_worst_case_seconds(route, timeout_seconds) + waits)


def attempt_worst_case_seconds(route: Route, http_timeout_seconds: float) -> float:
    """An HTTP attempt ends at the target's timeout; an invocation may connect, then wait its own timeout."""
    if "invoke" in route:
        return invoke_timeout_seconds(route["invoke"]) + INVOKE_CONNECT_TIMEOUT_SECONDS
    return http_timeout_seconds


def check_worst_case_seconds(check: Check, timeout_seconds: float) -> float:
    if check["kind"] == CheckKind.METRIC:
        return METRIC_READING_WORST_CASE_SECONDS
    return probe_worst_case_seconds(check, timeout_seconds)


def stage_worst_case_seconds(stage: Stage, timeout_seconds: float, max_concurrency: int) -> float:
    slowest = max(check_worst_case_seconds(check, timeout_seconds) for check in stage["checks"])
    batches = math.ceil(len(stage["checks"]) / max_concurrency)
    per_round = batches * slowest
    return float(stage["rounds"] * per_round + (stage["rounds"] - 1) * stage["intervalSeconds"])


def worst_case_seconds(suite_document: SuiteDocument) -> float:
    """Upper bound of a normalized suite's run time: request timeouts plus every wait."""
    timeout = suite_document["target"]["timeoutSeconds"]
    concurrency = suite_document["maxConcurrency"]
    return sum(stage_worst_case_seconds(stage, timeout, concurrency) for stage in suite_document["stages"])
