"""Reporting the verdict to CodeDeploy, from the workflow or from an execution that ended badly; counting it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    ReportRequest,
    StatusDelivery,
    ValidationSummary,
)
from tollgate_core.observability import logger
from tollgate_core.ports import ExecutionDescriber, ExecutionFailure, HookIds, StatusReporter
from tollgate_core.validation_metrics import (
    DecidedValidation,
    parse_start_time,
    record_decided,
    start_time_from_millis,
)
from tollgate_core.verdict import Verdict, decide, reported_status, summarize

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
    started_at: datetime | None = None

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> EndedExecution:
        return cls(
            arn=str(detail.get("executionArn") or ""),
            status=str(detail.get("status") or ""),
            input=detail.get("input"),
            failure=ExecutionFailure.of(detail.get("error"), detail.get("cause")),
            started_at=start_time_from_millis(detail.get("startDate")),
        )


@dataclass(frozen=True)
class ValidationInput:
    """What the safety net reads from an ended execution's input: whom to report to, and whether only as a dry run."""

    deployment: Deployment | EcsDeployment
    dry_run: bool


def hook_ids(deployment: Deployment) -> HookIds:
    return HookIds(deployment["deploymentId"], deployment["lifecycleEventHookExecutionId"])


def codedeploy_hook(deployment: Deployment | EcsDeployment) -> HookIds | None:
    """The CodeDeploy hook to report to; None for ECS, which reads the verdict from the execution's output."""
    if deployment.get("controller") == Controller.ECS:
        return None
    return hook_ids(cast(Deployment, deployment))


def report_validation(request: ReportRequest, reporter: StatusReporter) -> ExecutionOutput:
    """Decide the verdict, send CodeDeploy what the deployment receives when CodeDeploy asked, return the output.

    A dry run's deployment receives Succeeded whatever the verdict; the output says what would have failed and why.
    Deployment ids it cannot read raise: the execution then fails and the safety net reports.
    """
    verdict = decide(request.get("progress"), request.get("error"))
    dry_run = request.get("dryRun") is True
    execution_arn = request.get("executionArn")
    summary = summarize(request["deployment"], request.get("progress"), verdict, request.get("target"))
    output = execution_output(summary, verdict, dry_run, execution_arn)
    hook = codedeploy_hook(request["deployment"])
    if hook is not None:
        output["codeDeploy"] = reporter.report(hook, reported_status(verdict, dry_run))
    _log_reported(output, "CodeDeploy status sent" if hook else "verdict decided; ECS reads it from the output")
    if output.get("codeDeploy", StatusDelivery.RECORDED) == StatusDelivery.RECORDED:  # else the first report counted
        record_decided(_decided(request, verdict, dry_run), datetime.now(UTC))
    return output


def _decided(request: ReportRequest, verdict: Verdict, dry_run: bool) -> DecidedValidation:
    return DecidedValidation(
        deployment=request["deployment"],
        verdict=verdict.status,
        reason=verdict.reason,
        dry_run=dry_run,
        progress=request.get("progress"),
        started_at=parse_start_time(request.get("startedAt")),
        execution_arn=request.get("executionArn"),
    )


def execution_output(
    summary: ValidationSummary, verdict: Verdict, dry_run: bool, execution_arn: str | None
) -> ExecutionOutput:
    """The summary, with what the deployment receives, whether only as a dry run, and where to open the execution."""
    output = cast(ExecutionOutput, {**summary, "reportedStatus": reported_status(verdict, dry_run), "dryRun": dry_run})
    if dry_run:
        output["wouldHaveFailed"] = verdict.status == HookStatus.FAILED
    console_url = execution_console_url(execution_arn) if execution_arn else None
    if console_url:
        output["consoleUrl"] = console_url
    return output


def report_ended_execution(
    execution: EndedExecution, reporter: StatusReporter, describer: ExecutionDescriber
) -> ExecutionOutput | None:
    """The safety net: an execution that ended FAILED, TIMED_OUT or ABORTED still reports Failed (a dry run: Succeeded).

    A dry run never blocks a deployment, not even when Tollgate itself fails (a suite too large for the workflow, a
    soak longer than its time budget, an operator's StopExecution); its output says it would have failed and why.
    A report the workflow already made answers 'already completed', so this never reports twice.
    """
    if execution.status not in UNREPORTED_END_STATUSES:
        return None
    validation = _validation_of(execution.input)
    if validation is None:
        logger.error("cannot report: the execution input has no deployment ids", extra={"executionArn": execution.arn})
        return None
    hook = codedeploy_hook(validation.deployment)
    if hook is None:
        # ECS's hook reads the ended execution itself on its next invocation; only the count is left to do here.
        logger.info("an ECS validation ended; its hook reports", extra={"executionArn": execution.arn})
        _record_ended(execution, validation, ended_execution_reason(execution.status, execution.failure))
        return None
    failure = execution.failure or _described_failure(describer, execution.arn)
    verdict = Verdict(HookStatus.FAILED, ended_execution_reason(execution.status, failure))
    output = execution_output(
        summarize(validation.deployment, None, verdict), verdict, validation.dry_run, execution.arn
    )
    output["codeDeploy"] = reporter.report(hook, reported_status(verdict, validation.dry_run))
    _log_reported(output, "CodeDeploy status sent by the safety net")
    if output["codeDeploy"] == StatusDelivery.RECORDED:  # else the workflow's reporter counted it
        _record_ended(execution, validation, verdict.reason)
    return output


def _record_ended(execution: EndedExecution, validation: ValidationInput, reason: str | None) -> None:
    decided = DecidedValidation(
        validation.deployment, HookStatus.FAILED, reason, validation.dry_run, None, execution.started_at, execution.arn
    )
    record_decided(decided, datetime.now(UTC))


def _log_reported(output: ExecutionOutput, message: str) -> None:
    extra = {
        "status": output["status"],
        "reportedStatus": output.get("reportedStatus"),
        "dryRun": output.get("dryRun"),
        "reason": output["reason"],
        "outcome": output.get("codeDeploy"),
        "consoleUrl": output.get("consoleUrl"),
    }
    if output.get("wouldHaveFailed"):
        logger.warning(
            f"dry run: the validation would have failed, the deployment receives Succeeded; {message}", extra=extra
        )
        return
    logger.info(message, extra=extra)


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


def _validation_of(execution_input: str | None) -> ValidationInput | None:
    """The deployment and the suite's dryRun from the input; None without readable deployment ids.

    Only a suite that says `dryRun: true` makes a dry run: anything else the input holds reports Failed.
    """
    try:
        document = json.loads(execution_input or "{}")
        deployment: Deployment | EcsDeployment = document["deployment"]
        codedeploy_hook(deployment)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    suite = document.get("suite")
    return ValidationInput(deployment, isinstance(suite, dict) and suite.get("dryRun") is True)
