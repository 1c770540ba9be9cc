"""Reporting the verdict to CodeDeploy, from the workflow or from an execution that ended badly."""

from __future__ import annotations

import json
from typing import Any

from tollgate_core.observability import logger
from tollgate_core.ports import HookIds, StatusReporter
from tollgate_core.verdict import FAILED, Verdict, decide, summarize

# Execution statuses after which the workflow itself may not have reported.
UNREPORTED_END_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def hook_ids(deployment: dict[str, Any]) -> HookIds:
    return HookIds(deployment["deploymentId"], deployment["lifecycleEventHookExecutionId"])


def report_validation(
    deployment: dict[str, Any],
    progress: dict[str, Any] | None,
    error: dict[str, Any] | None,
    reporter: StatusReporter,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Decide the verdict, send it, and return the summary that becomes the execution's output.

    Deployment ids it cannot read raise: the execution then fails and the safety net reports.
    """
    verdict = decide(progress, error)
    outcome = reporter.report(hook_ids(deployment), verdict.status)
    logger.info(
        "CodeDeploy status sent", extra={"status": verdict.status, "outcome": outcome, "reason": verdict.reason}
    )
    return {**summarize(deployment, progress, verdict, target), "codeDeploy": outcome}


def report_ended_execution(detail: dict[str, Any], reporter: StatusReporter) -> dict[str, Any] | None:
    """The safety net: an execution that ended FAILED, TIMED_OUT or ABORTED still reports Failed.

    A report the workflow already made answers 'already completed', so this never reports twice.
    """
    status = detail.get("status")
    if status not in UNREPORTED_END_STATUSES:
        return None
    deployment = _deployment_of(detail)
    if deployment is None:
        logger.error("cannot report: the execution input has no deployment ids", extra={"detail": detail})
        return None
    verdict = Verdict(
        FAILED, f"validation execution ended {status}: {detail.get('error') or ''} {detail.get('cause') or ''}".strip()
    )
    outcome = reporter.report(hook_ids(deployment), verdict.status)
    logger.info("CodeDeploy status sent by the safety net", extra={"status": FAILED, "outcome": outcome})
    return {**summarize(deployment, None, verdict), "codeDeploy": outcome}


def _deployment_of(detail: dict[str, Any]) -> dict[str, Any] | None:
    try:
        deployment = json.loads(detail.get("input") or "{}")["deployment"]
        hook_ids(deployment)
    except (ValueError, KeyError, TypeError):
        return None
    return dict(deployment)
