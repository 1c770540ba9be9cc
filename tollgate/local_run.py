"""One validation on the embedded engine, from CodeDeploy's hook event to the status it recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tollgate.engine.codedeploy import ComputePlatform, HookExecution, LambdaAppSpec
from tollgate.engine.engine import LocalEngine
from tollgate.engine.template import AliasDeployment, FunctionSpec
from tollgate.history import AttemptFinished, HistoryFollower, ProgressEvent, RoundFinished, progress_events
from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS
from tollgate_core.checks import check_count
from tollgate_core.contracts import ExecutionOutput, ExecutionStatus, HookStatus, ProbeResult
from tollgate_core.execution_name import execution_name
from tollgate_core.ports import ExecutionFailure
from tollgate_core.suite import Suite
from tollgate_core.suite_catalog import DEFAULT_SUITE_PREFIX, CatalogEntry, codedeploy_entry

DEFAULT_LIFECYCLE_EVENT = "AfterAllowTestTraffic"
POLL_SECONDS = 0.1
# Reading the history costs the engine time in proportion to its length: read a long one less often.
_HISTORY_POLL_SECONDS_PER_EVENT = 0.002
# After CodeDeploy has a status, how long to wait for the execution to finish writing its output; it is looked at
# after 10 ms, then twice as long each time, up to POLL_SECONDS.
_SETTLE_SECONDS = 10.0
_FIRST_SETTLE_POLL_SECONDS = 0.01
# The engine's suite catalog: a versioned bucket in its own S3, as a platform team's would be.
LOCAL_SUITE_BUCKET = "tollgate-local-suites"
LOCAL_APPLICATION = LOCAL_DEPLOYMENT_GROUP = "tollgate-local"
# The functions that run a suite's checks, by their logical ids in template.yaml.
PROBE_FUNCTION, METRIC_READER_FUNCTION = "ProbeFunction", "MetricReaderFunction"


class UnknownLifecycleEvent(ValueError):
    pass


@dataclass(frozen=True)
class LocalDeployment:
    """The CodeDeploy deployment a local run validates: whose it is, what its load balancer routes, what it ships."""

    application: str | None = None  # with deployment_group: the suite is published to the engine's suite catalog
    deployment_group: str | None = None
    test_listener: str | None = None  # URLs the local load balancer's test and production listeners answer on
    production_listener: str | None = None
    function: AliasDeployment | None = None  # a Lambda deployment of this function (from an --app-template)

    def catalog_entry(self, lifecycle_event: str) -> CatalogEntry | None:
        """Where the suite is published for this deployment group; None: the hook reads it as a bundled file."""
        if not (self.application and self.deployment_group):
            return None
        return codedeploy_entry(DEFAULT_SUITE_PREFIX, self.application, self.deployment_group, lifecycle_event)


@dataclass
class RunOutcome:
    reported_status: HookStatus  # what the local CodeDeploy recorded: Succeeded, Failed, or Pending on timeout
    execution_arn: str | None
    duration_seconds: float  # until CodeDeploy has a status and the execution has ended
    summary: ExecutionOutput | None  # the execution's output: the reporter's summary
    hook_error: dict[str, Any] | None  # the hook function's error document, as Lambda returns it
    execution_status: str | None
    execution_failure: ExecutionFailure | None = None  # the error and cause of an execution that failed
    seconds_to_status: float | None = None  # from the hook invocation to the status CodeDeploy recorded
    status_calls: list[str] = field(default_factory=list)  # every status call the local CodeDeploy received
    accepted_status_calls: int = 0  # of those, the ones that set the status
    rounds: list[list[ProbeResult]] = field(default_factory=list)  # every round's final probe results
    history: list[dict[str, Any]] = field(default_factory=list)


def run_validation(
    engine: LocalEngine,
    suite_path: Path,
    target: str | None = None,
    lifecycle_event: str = DEFAULT_LIFECYCLE_EVENT,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout_seconds: float | None = None,
    deployment: LocalDeployment = LocalDeployment(),
) -> RunOutcome:
    """Run one validation as CodeDeploy would; with `on_progress`, report progress while it runs.

    Without it the history is read once, at the end: reading it costs the engine time.
    """
    hook_function = hook_function_for(engine, lifecycle_event)
    engine.configure_function(hook_function.name, hook_variables(suite_path, target, deployment, lifecycle_event))
    entry = deployment.catalog_entry(lifecycle_event)
    if entry is not None:
        publish_to_local_catalog(engine, suite_path, entry)
    budget = float(hook_function.environment.get("HOOK_BUDGET_SECONDS") or DEFAULT_HOOK_BUDGET_SECONDS)
    hook = create_deployment(engine, lifecycle_event, deployment)
    started = time.monotonic()
    invocation = engine.invoke(
        hook_function.name,
        {"DeploymentId": hook.deployment_id, "LifecycleEventHookExecutionId": hook.hook_execution_id},
    )
    hook_error = json.loads(invocation.payload) if invocation.function_error else None
    name = execution_name(lifecycle_event, hook.hook_execution_id)
    arn = f"{engine.state_machine.arn.replace(':stateMachine:', ':execution:')}:{name}"
    outcome = RunOutcome(HookStatus.PENDING, None, 0.0, None, hook_error, None)
    _follow(engine, hook.hook_execution_id, arn, outcome, on_progress, started + (timeout_seconds or budget + 60))
    outcome.reported_status = hook.status
    outcome.status_calls = list(hook.calls)
    outcome.accepted_status_calls = hook.accepted_calls
    if hook.reported_at is not None:
        outcome.seconds_to_status = round(hook.reported_at - started, 3)
    outcome.duration_seconds = round(time.monotonic() - started, 3)
    return outcome


def hook_variables(
    suite_path: Path, target: str | None, deployment: LocalDeployment, lifecycle_event: str
) -> dict[str, str]:
    """The hook's variables for this run: the suite as a bundled file, or read from the engine's catalog (the
    hook's own bundled suite then stays its fallback, as in a deployed stack). Known before the engine starts,
    so that the hook's init can run while it starts."""
    variables = {"TARGET_BASE_URL": target or "", "SUITE_BUCKET": ""}
    if deployment.catalog_entry(lifecycle_event) is None:
        return {**variables, "SUITE_PATH": str(suite_path.resolve())}
    return {**variables, "SUITE_BUCKET": LOCAL_SUITE_BUCKET, "SUITE_PREFIX": DEFAULT_SUITE_PREFIX}


def publish_to_local_catalog(engine: LocalEngine, suite_path: Path, entry: CatalogEntry) -> None:
    """Publish the suite as `tollgate publish` would, to the engine's versioned suite bucket."""
    from tollgate.publish import checked_suite_file, publish_suite

    s3 = engine.client("s3")
    try:
        s3.create_bucket(Bucket=LOCAL_SUITE_BUCKET)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_versioning(Bucket=LOCAL_SUITE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    publish_suite(s3, LOCAL_SUITE_BUCKET, entry, checked_suite_file(suite_path, DEFAULT_HOOK_BUDGET_SECONDS))


def unused_check_functions(engine: LocalEngine, suite: Suite) -> list[str]:
    """The probe when the suite has no routes, the metric reader when it has no metric checks."""
    routes, metric_checks = check_count(suite.stages)
    unused = ([] if routes else [PROBE_FUNCTION]) + ([] if metric_checks else [METRIC_READER_FUNCTION])
    return [engine.app.function(logical_id).name for logical_id in unused]


def create_deployment(engine: LocalEngine, lifecycle_event: str, deployment: LocalDeployment) -> HookExecution:
    """A deployment in the local CodeDeploy, with a load balancer when listeners are given, or a Lambda AppSpec."""
    listeners = None
    if deployment.test_listener or deployment.production_listener:
        listeners = engine.load_balancers.add(deployment.test_listener, deployment.production_listener)
    function = deployment.function
    return engine.codedeploy.create_deployment(
        lifecycle_event,
        application=deployment.application or (function.application if function else LOCAL_APPLICATION),
        deployment_group=deployment.deployment_group
        or (function.deployment_group if function else LOCAL_DEPLOYMENT_GROUP),
        compute_platform=ComputePlatform.LAMBDA if function else ComputePlatform.ECS,
        listeners=listeners,
        revision=LambdaAppSpec(function.function, function.alias).revision() if function else None,
    )


def hook_function_for(engine: LocalEngine, lifecycle_event: str) -> FunctionSpec:
    hook_function = engine.app.hook_for(lifecycle_event)
    if hook_function is None:
        known = ", ".join(engine.app.lifecycle_events())
        raise UnknownLifecycleEvent(f"no hook validates {lifecycle_event!r}; template.yaml has: {known}")
    return hook_function


def _follow(
    engine: LocalEngine,
    hook_execution_id: str,
    arn: str,
    outcome: RunOutcome,
    on_progress: Callable[[ProgressEvent], None] | None,
    deadline: float,
) -> None:
    """Follow until CodeDeploy has a status and the execution has ended (or the deadline passes)."""
    sfn = engine.client("stepfunctions")
    watch = ExecutionWatch(sfn, arn, outcome, on_progress)
    settle_deadline = deadline
    settle_poll = _FIRST_SETTLE_POLL_SECONDS
    execution = None
    while time.monotonic() < min(deadline, settle_deadline):
        execution = describe_execution(sfn, arn)
        reported = engine.codedeploy.hook(hook_execution_id).status != HookStatus.PENDING
        if reported and (execution is None or execution["status"] != ExecutionStatus.RUNNING):
            break
        if reported:
            settle_deadline = min(settle_deadline, time.monotonic() + _SETTLE_SECONDS)
        if execution is not None:
            watch.read_progress()
        if reported:  # the reporter has sent the status: the execution ends in a moment
            time.sleep(settle_poll)
            settle_poll = min(settle_poll * 2, POLL_SECONDS)
        else:
            engine.codedeploy.wait_for_status(hook_execution_id, POLL_SECONDS)
    if execution is not None:
        watch.finish(execution)


class ExecutionWatch:
    """Reads one execution's progress out of its history into a RunOutcome: live while it runs, and at its end."""

    def __init__(
        self, sfn: Any, arn: str, outcome: RunOutcome, on_progress: Callable[[ProgressEvent], None] | None
    ) -> None:
        self.arn = arn
        self.outcome = outcome
        self._follower = HistoryFollower(sfn, arn)
        self._on_progress = on_progress
        self._next_history_read = 0.0

    def read_progress(self) -> None:
        """Publish what happened since the last read; only with a progress listener, and not too often."""
        if self._on_progress is None or time.monotonic() < self._next_history_read:
            return
        _publish(self._follower.new_events(), self.outcome, self._on_progress)
        self._next_history_read = time.monotonic() + len(self.outcome.history) * _HISTORY_POLL_SECONDS_PER_EVENT

    def finish(self, execution: dict[str, Any]) -> None:
        """Record the execution as DescribeExecution gave it, with the rest of its history and its output."""
        outcome = self.outcome
        outcome.execution_arn = self.arn
        outcome.execution_status = execution["status"]
        outcome.execution_failure = ExecutionFailure.of(execution.get("error"), execution.get("cause"))
        _publish(self._follower.new_events(), outcome, self._on_progress)
        if execution.get("output"):
            outcome.summary = json.loads(execution["output"])


def describe_execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise
    return execution


def _publish(
    events: list[dict[str, Any]], outcome: RunOutcome, on_progress: Callable[[ProgressEvent], None] | None
) -> None:
    outcome.history += events
    for history_event in events:
        for event in progress_events(history_event):
            if isinstance(event, RoundFinished):
                outcome.rounds.append(event.probes)
            if on_progress:
                on_progress(event)


def attempts_of(outcome: RunOutcome) -> list[ProbeResult]:
    """Every attempt's result, in history order."""
    return [
        event.result
        for history_event in outcome.history
        for event in progress_events(history_event)
        if isinstance(event, AttemptFinished)
    ]
