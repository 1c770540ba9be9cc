"""Reporter: send the verdict to CodeDeploy, from the workflow or from the execution-ended safety net."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.aws import CodeDeployStatusReporter
from tollgate_core.observability import logger
from tollgate_core.reporting import report_ended_execution, report_validation

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


@cache
def _reporter() -> CodeDeployStatusReporter:
    return CodeDeployStatusReporter()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        # The event's detail as a plain dict: Powertools' data_classes package would double the cold start.
        return report_ended_execution(event.get("detail") or {}, _reporter())
    return report_validation(
        event["deployment"], event.get("progress"), event.get("error"), _reporter(), event.get("target")
    )
