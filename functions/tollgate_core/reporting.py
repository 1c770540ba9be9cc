"""Reporting the verdict to CodeDeploy, from the workflow or from an execution that ended badly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tollgate_core.contracts import (
    Deployment,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    ReportRequest,
)
from tollgate_core.observability import logger
from tollgate_core.ports import ExecutionDescriber, ExecutionFailure, HookIds, StatusReporter
from tollgate_core.verdict import Verdict, decide, summarize

# Execution statuses after which the workflow itself may not have reported.
UNREPORTED_END_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED)
_MAX_CAUSE_CHARS = 300


@dataclass(frozen=True)
class EndedExecution:
    """The parts of a "Step Functions Execution Status Change" event the safety net reads."""

    arn: str
    status: str
    input: str | None
    failure: ExecutionFailure | None  # None when the event does not carry the error and cause

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> EndedExecution:
        error, cause = detail.get("error"), detail.get("cause")
        return cls(
            arn=str(detail.get("executionArn") or ""),
            status=str(detail.get("status") or ""),
            input=detail.get("input"),
            failure=ExecutionFailure(error, cause) if error or cause else None,
        )


def hook_ids(deployment: Deployment) -> HookIds:
    return HookIds(deployment["deploymentId"], deployment["lifecycleEventHookExecutionId"])


def report_validation(request: ReportRequest, reporter: StatusReporter) -> ExecutionOutput:
    """Decide the verdict, send it, and return the summary that becomes the execution's output.

    Deployment ids it cannot read raise: the execution then fails and the safety net reports.
    """
    verdict = decide(request.get("progress"), request.get("error"))
    outcome = reporter.report(hook_ids(request["deployment"]), verdict.status)
    logger.info(
        "CodeDeploy status sent", extra={"status": verdict.status, "outcome": outcome, "reason": verdict.reason}
    )
    summary = summarize(request["deployment"], request.get("progress"), verdict, request.get("target"))
    return {**summary, "codeDeploy": outcome}


def report_ended_execution(
    execution: EndedExecution, reporter: StatusReporter, describer: ExecutionDescriber
) -> ExecutionOutput | None:
    """The safety net: an execution that ended FAILED, TIMED_OUT or ABORTED still reports Failed.

    A report the workflow already made answers 'already completed', so this never reports twice.
    """
    if execution.status not in UNREPORTED_END_STATUSES:
        return None
    deployment = _deployment_of(execution.input)
    if deployment is None:
        logger.error("cannot report: the execution input has no deployment ids", extra={"executionArn": execution.arn})
        return None
    failure = execution.failure or _described_failure(describer, execution.arn)
    verdict = Verdict(HookStatus.FAILED, ended_execution_reason(execution.status, failure))
    outcome = reporter.report(hook_ids(deployment), verdict.status)
    logger.info("CodeDeploy status sent by the safety net", extra={"reason": verdict.reason, "outcome": outcome})
    return {**summarize(deployment, None, verdict), "codeDeploy": outcome}


def ended_execution_reason(status: str, failure: ExecutionFailure | None) -> str:
    """`execution FAILED: States.DataLimitExceeded: The state/task ...`: what ended it, in Step Functions' words."""
    parts = [f"execution {status}"]
    if failure and failure.error:
        parts.append(failure.error)
    if failure and failure.cause:
        cause = failure.cause
        parts.append(cause if len(cause) <= _MAX_CAUSE_CHARS else cause[: _MAX_CAUSE_CHARS - 3] + "...")
    return ": ".join(parts)


def _described_failure(describer: ExecutionDescriber, arn: str) -> ExecutionFailure | None:
    """The error and cause from DescribeExecution; the report goes out without them if that fails."""
    try:
        return describer.failure(arn)
    except Exception:  # noqa: BLE001 - whatever went wrong, the status must still reach CodeDeploy
        logger.exception("cannot describe the ended execution", extra={"executionArn": arn})
        return None


def _deployment_of(execution_input: str | None) -> Deployment | None:
    try:
        deployment: Deployment = json.loads(execution_input or "{}")["deployment"]
        hook_ids(deployment)
    except (ValueError, KeyError, TypeError):
        return None
    return deployment
