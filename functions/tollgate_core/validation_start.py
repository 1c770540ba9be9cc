"""Starting a validation for one lifecycle hook, and failing the hook when it cannot start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tollgate_core.codedeploy_deployment import CodeDeployDeployment, DeploymentProblem
from tollgate_core.contracts import Controller, Deployment, EcsDeployment, ExecutionInput, HookStatus
from tollgate_core.deadline import within
from tollgate_core.execution_name import execution_name
from tollgate_core.observability import logger
from tollgate_core.ports import (
    DeploymentReader,
    HookIds,
    ListenerReader,
    SetupFailed,
    StatusReporter,
    SuiteStore,
    ValidationAlreadyStarted,
    WorkflowStarter,
)
from tollgate_core.progress import initial_progress
from tollgate_core.settings import HookSettings
from tollgate_core.suite import Suite, SuiteError
from tollgate_core.suite_catalog import codedeploy_entry
from tollgate_core.suite_resolution import ResolvedSuite, SuiteNotFound, catalog_location, catalog_suite, file_suite
from tollgate_core.suite_targets import CodeDeployFacts, aim_suite, function_arn_prefix

# How long a hook may spend reading the suite, the deployment and its listeners when its invocation does not say.
DEFAULT_PREPARE_SECONDS = 40.0


class ValidationNotStarted(Exception):
    """The hook reported Failed because no validation could start; raised so the failure is loud."""


@dataclass(frozen=True)
class StartedValidation:
    execution_name: str
    execution_arn: str | None  # None when an earlier invocation already started it
    already_started: bool


@dataclass(frozen=True)
class DeploymentSources:
    """Where a CodeDeploy hook reads what it needs besides its settings; each is read only when needed."""

    suites: SuiteStore
    deployments: DeploymentReader
    listeners: ListenerReader


def _deployment_document(hook: HookIds, lifecycle_event: str) -> Deployment:
    return {
        "deploymentId": hook.deployment_id,
        "lifecycleEventHookExecutionId": hook.hook_execution_id,
        "lifecycleEvent": lifecycle_event,
        "controller": Controller.CODEDEPLOY,
    }


def prepared_input(hook: HookIds, settings: HookSettings, sources: DeploymentSources) -> ExecutionInput:
    """The execution input, with the suite from the catalog or the bundle, aimed at what the deployment ships."""
    deployment = DeploymentOnDemand(sources.deployments, hook.deployment_id)
    resolved = codedeploy_suite(settings, deployment, sources.suites)
    aimed = aim_suite(
        resolved.suite,
        settings.target_base_url,
        CodeDeployFacts(deployment, sources.listeners),
        function_arn_prefix(settings.state_machine_arn),
    )
    document = _deployment_document(hook, settings.lifecycle_event)
    if deployment.read_so_far is not None:
        document["application"] = deployment.read_so_far.application
        document["deploymentGroup"] = deployment.read_so_far.deployment_group
    document["suiteSource"] = resolved.source
    if aimed.target_listener:
        document["targetListener"] = aimed.target_listener
    if aimed.lambda_target:
        document["lambdaTarget"] = aimed.lambda_target
    return execution_input(document, aimed.suite)


class DeploymentOnDemand:
    """The deployment, read at the first call and kept: a hook with a bundled suite aimed at a URL never reads it."""

    def __init__(self, reader: DeploymentReader, deployment_id: str) -> None:
        self._reader = reader
        self._deployment_id = deployment_id
        self.read_so_far: CodeDeployDeployment | None = None

    def __call__(self) -> CodeDeployDeployment:
        if self.read_so_far is None:
            self.read_so_far = self._reader.read(self._deployment_id)
        return self.read_so_far


def codedeploy_suite(
    settings: HookSettings, deployment: Callable[[], CodeDeployDeployment], store: SuiteStore
) -> ResolvedSuite:
    """The deployment group's suite in the catalog, else the hook's bundled suite, else SuiteNotFound."""
    looked_in = ""
    if settings.catalog:
        found = deployment()
        entry = codedeploy_entry(
            settings.catalog.prefix, found.application, found.deployment_group, settings.lifecycle_event
        )
        resolved = catalog_suite(store, settings.catalog.bucket, entry, settings.budget_seconds)
        if resolved is not None:
            return resolved
        looked_in = catalog_location(settings.catalog.bucket, entry)
    if settings.suite_path:
        return file_suite(settings.suite_path, settings.budget_seconds)
    raise SuiteNotFound(
        f"no suite for {settings.lifecycle_event}: {looked_in or 'the suite catalog is off'} "
        "and the hook bundles no suite for it"
    )


def execution_input(deployment: Deployment | EcsDeployment, suite: Suite) -> ExecutionInput:
    """The execution input: everything the console needs to show exactly what was checked, and for whom."""
    return {
        "deployment": deployment,
        "suite": suite.document,
        "validation": {"progress": initial_progress(suite.stages)},
        "error": None,
    }


def start_validation(
    hook: HookIds,
    settings: HookSettings,
    starter: WorkflowStarter,
    reporter: StatusReporter,
    sources: DeploymentSources,
    prepare_within_seconds: float = DEFAULT_PREPARE_SECONDS,
) -> StartedValidation:
    """Start the validation, or report Failed; `prepare_within_seconds` leaves the hook time to do either."""
    name = execution_name(settings.lifecycle_event, hook.hook_execution_id)
    try:
        document = within(
            prepare_within_seconds,
            "reading the suite, the deployment and its listeners",
            lambda: prepared_input(hook, settings, sources),
        )
    # An invalid or missing suite, an unreadable deployment, our own bug: CodeDeploy must still hear.
    except Exception as error:
        _fail_hook(hook, reporter, _setup_problem(error))
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


def _setup_problem(error: Exception) -> str:
    if isinstance(error, SuiteError):
        return f"invalid suite: {error}"
    if isinstance(error, SetupFailed | DeploymentProblem):
        return str(error)
    return f"cannot prepare the validation: {error!r}"


def _fail_hook(hook: HookIds, reporter: StatusReporter, reason: str) -> None:
    logger.error("reporting Failed: no validation can run", extra={"reason": reason})
    outcome = reporter.report(hook, HookStatus.FAILED)
    logger.info("CodeDeploy status sent", extra={"status": HookStatus.FAILED, "outcome": outcome})
