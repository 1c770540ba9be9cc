"""Starting a validation for one lifecycle hook, and failing the hook when it cannot start."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate_core.contracts import Controller, Deployment, EcsDeployment, ExecutionInput, HookStatus
from tollgate_core.execution_name import execution_name
from tollgate_core.observability import logger
from tollgate_core.ports import HookIds, StatusReporter, ValidationAlreadyStarted, WorkflowStarter
from tollgate_core.progress import initial_progress
from tollgate_core.settings import HookSettings
from tollgate_core.suite import Suite, SuiteError, load_suite


class ValidationNotStarted(Exception):
    """The hook reported Failed because no validation could start; raised so the failure is loud."""


@dataclass(frozen=True)
class StartedValidation:
    execution_name: str
    execution_arn: str | None  # None when an earlier invocation already started it
    already_started: bool


def workflow_input(hook: HookIds, lifecycle_event: str, suite: Suite) -> ExecutionInput:
    """The execution input for a CodeDeploy lifecycle hook."""
    deployment: Deployment = {
        "deploymentId": hook.deployment_id,
        "lifecycleEventHookExecutionId": hook.hook_execution_id,
        "lifecycleEvent": lifecycle_event,
        "controller": Controller.CODEDEPLOY,
    }
    return execution_input(deployment, suite)


def execution_input(deployment: Deployment | EcsDeployment, suite: Suite) -> ExecutionInput:
    """The execution input: everything the console needs to show exactly what was checked, and for whom."""
    return {
        "deployment": deployment,
        "suite": suite.document,
        "validation": {"progress": initial_progress(suite.stages)},
        "error": None,
    }


def start_validation(
    hook: HookIds, settings: HookSettings, starter: WorkflowStarter, reporter: StatusReporter
) -> StartedValidation:
    name = execution_name(settings.lifecycle_event, hook.hook_execution_id)
    try:
        suite = load_suite(settings.suite_path, settings.budget_seconds).with_base_url(settings.target_base_url)
        document = workflow_input(hook, settings.lifecycle_event, suite)
    except Exception as error:  # an invalid suite, or our own bug: CodeDeploy must still hear
        problem = (
            f"invalid suite: {error}" if isinstance(error, SuiteError) else f"cannot prepare the validation: {error!r}"
        )
        _fail_hook(hook, reporter, problem)
        raise ValidationNotStarted(str(error)) from error
    try:
        arn = starter.start(name, document)
    except ValidationAlreadyStarted:
        logger.info("validation already started; not starting another", extra={"executionName": name})
        return StartedValidation(name, None, already_started=True)
    except Exception as error:  # a refusal, a network error or our own bug: CodeDeploy must still hear
        _fail_hook(hook, reporter, f"cannot start the validation workflow: {error}")
        raise ValidationNotStarted(str(error)) from error
    logger.info("validation started", extra={"executionArn": arn})
    return StartedValidation(name, arn, already_started=False)


def _fail_hook(hook: HookIds, reporter: StatusReporter, reason: str) -> None:
    logger.error("reporting Failed: no validation can run", extra={"reason": reason})
    outcome = reporter.report(hook, HookStatus.FAILED)
    logger.info("CodeDeploy status sent", extra={"status": HookStatus.FAILED, "outcome": outcome})
