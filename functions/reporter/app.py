"""Reporter: send the verdict to CodeDeploy, from the workflow or from the execution-ended safety net; count it."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.aws import CodeDeployStatusReporter, StepFunctionsDescriber
from tollgate_core.contracts import ExecutionOutput, ReportRequest
from tollgate_core.observability import logger, metrics
from tollgate_core.reporting import EndedExecution, report_ended_execution, report_validation

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


@cache
def _reporter() -> CodeDeployStatusReporter:
    return CodeDeployStatusReporter()


@cache
def _describer() -> StepFunctionsDescriber:
    return StepFunctionsDescriber()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> ExecutionOutput | None:
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        # The event's detail as a plain dict: Powertools' data_classes package would double the cold start.
        ended = EndedExecution.from_detail(event.get("detail") or {})
        return report_ended_execution(ended, _reporter(), _describer())
    # The workflow's own request (statemachine/validation.asl.json, `Report to CodeDeploy`).
    return report_validation(cast(ReportRequest, event), _reporter())
