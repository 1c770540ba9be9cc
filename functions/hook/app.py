"""CodeDeploy lifecycle hook: start the validation workflow for this hook execution."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.aws import CodeDeployStatusReporter, StepFunctionsStarter
from tollgate_core.aws_deployment import CodeDeployDeploymentReader, ElbListenerReader, S3SuiteStore
from tollgate_core.console_link import execution_console_url
from tollgate_core.observability import logger, metrics
from tollgate_core.ports import HookIds
from tollgate_core.settings import HookSettings
from tollgate_core.validation_metrics import record_started
from tollgate_core.validation_start import DeploymentSources, StartedValidation, start_validation

SETTINGS = HookSettings.from_env()
# Of the invocation's time, what starting the execution, or reporting Failed, may need after preparing it.
START_OR_REPORT_SECONDS = 10.0


@cache
def _adapters() -> tuple[StepFunctionsStarter, CodeDeployStatusReporter, DeploymentSources]:
    # The sources make their clients at first use: a hook with a bundled suite aimed at a URL reads none of them.
    sources = DeploymentSources(S3SuiteStore(), CodeDeployDeploymentReader(), ElbListenerReader())
    return StepFunctionsStarter(SETTINGS.state_machine_arn), CodeDeployStatusReporter(), sources


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # The event as a plain dict, as the reporter reads its own: Powertools' data_classes package would import
    # every event class it has, a quarter of the hook's cold start, for two fields.
    hook = _hook_ids(event)
    if hook is None:
        # Without both ids no status can ever reach CodeDeploy; a retry would not change that.
        logger.error("malformed CodeDeploy hook event: no status can be reported", extra={"event": event})
        return {"started": False, "reason": "event lacks DeploymentId or LifecycleEventHookExecutionId"}
    starter, reporter, sources = _adapters()
    prepare_within = context.get_remaining_time_in_millis() / 1000 - START_OR_REPORT_SECONDS
    started = start_validation(hook, SETTINGS, starter, reporter, sources, prepare_within)
    if not started.already_started:
        record_started(SETTINGS.lifecycle_event, started.execution_arn)
    _log_console_link(started)
    return {
        "started": not started.already_started,
        "executionName": started.execution_name,
        "executionArn": started.execution_arn,
    }


def _hook_ids(event: Any) -> HookIds | None:
    """Both ids as non-empty strings, or None."""
    raw = event if isinstance(event, dict) else {}
    deployment_id, hook_execution_id = raw.get("DeploymentId"), raw.get("LifecycleEventHookExecutionId")
    if isinstance(deployment_id, str) and isinstance(hook_execution_id, str) and deployment_id and hook_execution_id:
        return HookIds(deployment_id, hook_execution_id)
    return None


def _log_console_link(started: StartedValidation) -> None:
    """Where to watch the validation: the one this invocation started, or the one an earlier invocation did."""
    arn = started.execution_arn or (
        SETTINGS.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + started.execution_name
    )
    logger.info(
        "validation in the Step Functions console",
        extra={"executionArn": arn, "consoleUrl": execution_console_url(arn)},
    )
