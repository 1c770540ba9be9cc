"""Reporting the verdict to CodeDeploy, from the workflow or from an execution that ended badly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
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
        return cls(
            arn=str(detail.get("executionArn") or ""),
            status=str(detail.get("status") or ""),
            input=detail.get("input"),
            failure=ExecutionFailure.of(detail.get("error"), detail.get("cause")),
        )


def hook_ids(deployment: Deployment) -> HookIds:
    return HookIds(deployment["deploymentId"], deployment["lifecycleEventHookExecutionId"])


def codedeploy_hook(deployment: Deployment | EcsDeployment) -> HookIds | None:
    """The CodeDeploy hook to report to; None for ECS, which reads the verdict from the execution's output."""
    if deployment.get("controller") == Controller.ECS:
        return None
    return hook_ids(cast(Deployment, deployment))


def report_validation(request: ReportRequest, reporter: StatusReporter) -> ExecutionOutput:
    """Decide the verdict, send it to CodeDeploy when CodeDeploy asked, and return the execution's output.

    Deployment ids it cannot read raise: the execution then fails and the safety net reports.
    """
    verdict = decide(request.get("progress"), request.get("error"))
    summary = summarize(request["deployment"], request.get("progress"), verdict, request.get("target"))
    hook = codedeploy_hook(request["deployment"])
    if hook is None:
        logger.info("verdict decided; ECS reads it from the output", extra={"status": verdict.status})
        return cast(ExecutionOutput, summary)  # the summary alone: no CodeDeploy delivery to tell
    outcome = reporter.report(hook, verdict.status)
    logger.info(
        "CodeDeploy status sent", extra={"status": verdict.status, "outcome": outcome, "reason": verdict.reason}
    )
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
    hook = codedeploy_hook(deployment)
    if hook is None:
        # ECS's hook reads the ended execution itself on its next invocation, and answers FAILED.
        logger.info("an ECS validation ended; its hook reports", extra={"executionArn": execution.arn})
        return None
    failure = execution.failure or _described_failure(describer, execution.arn)
    verdict = Verdict(HookStatus.FAILED, ended_execution_reason(execution.status, failure))
    outcome = reporter.report(hook, verdict.status)
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


def _deployment_of(execution_input: str | None) -> Deployment | EcsDeployment | None:
    try:
        deployment: Deployment | EcsDeployment = json.loads(execution_input or "{}")["deployment"]
        codedeploy_hook(deployment)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return deployment
