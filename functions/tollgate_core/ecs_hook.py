"""The ECS lifecycle hook's answers: start a validation, report on it while ECS polls, or answer at once.

ECS invokes the hook synchronously and reads its return value; a function error rolls the deployment back
with no reason anyone can read, so every failure here, our own bugs included, is a FAILED answer that says why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate_core.budget import worst_case_seconds
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import (
    Controller,
    EcsDeployment,
    EcsHookAnswer,
    EcsHookStatus,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    LifecycleStage,
)
from tollgate_core.deadline import within
from tollgate_core.execution_name import execution_name
from tollgate_core.observability import logger
from tollgate_core.ports import (
    ExecutionReader,
    SetupFailed,
    SuiteStore,
    ValidationAlreadyStarted,
    WorkflowStarter,
)
from tollgate_core.reporting import ended_execution_reason
from tollgate_core.settings import EcsHookSettings, SuiteCatalog
from tollgate_core.suite import Suite, SuiteError, parse_suite
from tollgate_core.suite_catalog import CatalogEntry, cluster_and_service, ecs_entry
from tollgate_core.suite_resolution import (
    S3_SCHEME,
    ResolvedSuite,
    catalog_location,
    catalog_suite,
    file_suite,
    inline_suite,
    s3_suite,
)
from tollgate_core.suite_targets import aim_suite, function_arn_prefix
from tollgate_core.validation_metrics import record_started
from tollgate_core.validation_start import DEFAULT_PREPARE_SECONDS, execution_input

# The stages each have a bundled suite unless the hook's configuration names one.
DEFAULT_SUITES = {
    LifecycleStage.POST_TEST_TRAFFIC_SHIFT: "after-allow-test-traffic",
    LifecycleStage.PRODUCTION_TRAFFIC_SHIFT: "after-allow-traffic",
    LifecycleStage.POST_PRODUCTION_TRAFFIC_SHIFT: "after-allow-traffic",
}
# On rollback ECS invokes these stages again with the new revision's weight of that traffic back at 0.
ROLLBACK_STAGES = {
    LifecycleStage.TEST_TRAFFIC_SHIFT: "testTrafficWeights",
    LifecycleStage.PRODUCTION_TRAFFIC_SHIFT: "productionTrafficWeights",
}
MIN_CALLBACK_SECONDS, MAX_CALLBACK_SECONDS = 5, 30
MAX_REASON_CHARS = 500
_SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class MalformedEcsEvent(ValueError):
    """The event is not an ECS lifecycle hook invocation; the message names the field."""


@dataclass(frozen=True)
class EcsHookEvent:
    """One invocation of the hook by ECS, for one deployment at one lifecycle stage."""

    execution_id: str
    lifecycle_stage: LifecycleStage
    service_arn: str
    target_revision_arn: str
    test_weight: float  # the new revision's share of test traffic, in percent
    production_weight: float  # likewise of production traffic: the traffic step in linear and canary
    hook_details: dict[str, Any]  # the hook's configuration merged with what it answered before

    @classmethod
    def from_event(cls, event: Any) -> EcsHookEvent:
        if not isinstance(event, dict):
            raise MalformedEcsEvent(f"(event): expected an object, got {type(event).__name__}")
        details = _object(event.get("executionDetails"), "executionDetails")
        target = _text(details, "targetServiceRevisionArn", "executionDetails.")
        hook_details = event.get("hookDetails") or {}
        return cls(
            execution_id=_text(event, "executionId"),
            lifecycle_stage=_stage(event),
            service_arn=str(details.get("serviceArn") or event.get("resourceArn") or ""),
            target_revision_arn=target,
            test_weight=_weight(details, "testTrafficWeights", target),
            production_weight=_weight(details, "productionTrafficWeights", target),
            hook_details=_object(hook_details, "hookDetails"),
        )


def answer_hook(
    event: Any,
    settings: EcsHookSettings,
    starter: WorkflowStarter,
    reader: ExecutionReader,
    suites: SuiteStore,
    prepare_within_seconds: float = DEFAULT_PREPARE_SECONDS,
) -> EcsHookAnswer:
    """The answer ECS reads; never an exception."""
    try:
        invocation = EcsHookEvent.from_event(event)
    except MalformedEcsEvent as malformed:
        return failed(f"malformed ECS hook event: {malformed}")
    try:
        return _answer(invocation, settings, starter, reader, suites, prepare_within_seconds)
    except SuiteError as invalid:
        # A published suite is named: which object of the catalog to fix is not obvious from the stage alone.
        published = f"{invalid.source}: " if invalid.source.startswith(S3_SCHEME) else ""
        return failed(f"invalid suite: {published}{'; '.join(invalid.problems)}")
    except SetupFailed as problem:
        return failed(str(problem))
    except Exception as error:  # noqa: BLE001 - our own bug must still be an answer that says why
        logger.exception("the ECS hook failed", extra={"stage": invocation.lifecycle_stage})
        return failed(f"the hook failed: {type(error).__name__}: {error}")


def _answer(
    invocation: EcsHookEvent,
    settings: EcsHookSettings,
    starter: WorkflowStarter,
    reader: ExecutionReader,
    suites: SuiteStore,
    prepare_within_seconds: float = DEFAULT_PREPARE_SECONDS,
) -> EcsHookAnswer:
    if is_rollback(invocation):
        return succeeded(f"rollback at {invocation.lifecycle_stage}: Tollgate never blocks a rollback")
    execution_arn = invocation.hook_details.get("executionArn")
    if isinstance(execution_arn, str) and execution_arn:
        return _poll(execution_arn, invocation, reader)
    resolved = within(prepare_within_seconds, "reading the suite", lambda: resolve_suite(invocation, settings, suites))
    return _start(invocation, resolved, settings, starter)


def is_rollback(invocation: EcsHookEvent) -> bool:
    """A traffic shift back to the old revision: the new one's weight of that traffic is at 0."""
    weights = ROLLBACK_STAGES.get(invocation.lifecycle_stage)
    if weights is None:
        return False
    weight = invocation.test_weight if weights == "testTrafficWeights" else invocation.production_weight
    return weight == 0


def _start(
    invocation: EcsHookEvent, resolved: ResolvedSuite | str, settings: EcsHookSettings, starter: WorkflowStarter
) -> EcsHookAnswer:
    if isinstance(resolved, str):
        return succeeded(resolved)
    suite = resolved.suite
    name = validation_name(invocation)
    deployment = deployment_of(invocation)
    deployment["suiteSource"] = resolved.source
    try:
        execution_arn = starter.start(name, execution_input(deployment, suite))
    except ValidationAlreadyStarted:  # a concurrent or repeated first invocation: that validation is this one
        execution_arn = settings.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
    else:
        record_started(invocation.lifecycle_stage, execution_arn)
    delay = callback_delay_seconds(suite)
    logger.info(
        "validation started for ECS",
        extra={
            "executionArn": execution_arn,
            "consoleUrl": execution_console_url(execution_arn),
            "callBackDelay": delay,
        },
    )
    # dryRun always, so that a key of the same name in the hook's configuration never reaches the polls.
    return in_progress({"executionArn": execution_arn, "pollSeconds": delay, "dryRun": suite.dry_run}, delay)


def _poll(execution_arn: str, invocation: EcsHookEvent, reader: ExecutionReader) -> EcsHookAnswer:
    state = reader.read(execution_arn)
    # Written by the hook when it started the validation: an execution that ends badly has no output to say it.
    dry_run = invocation.hook_details.get("dryRun") is True
    details: dict[str, Any] = {"executionArn": execution_arn, "dryRun": dry_run}
    if state.status == ExecutionStatus.RUNNING:
        delay = invocation.hook_details.get("pollSeconds")
        delay = delay if isinstance(delay, int) and not isinstance(delay, bool) else MIN_CALLBACK_SECONDS
        return in_progress({**details, "pollSeconds": delay}, delay)
    if state.status != ExecutionStatus.SUCCEEDED:
        return _without_verdict(ended_execution_reason(state.status, state.failure), details)
    if state.output is None:
        return _without_verdict("the validation ended without a verdict", details)
    return _verdict_answer(state.output, details)


def _without_verdict(reason: str, details: dict[str, Any]) -> EcsHookAnswer:
    """A validation that ended without a verdict fails the deployment, unless it was a dry run."""
    if details["dryRun"]:
        return dry_run_answer(HookStatus.FAILED, reason, details)
    return failed(reason, details)


def _verdict_answer(output: ExecutionOutput, details: dict[str, Any]) -> EcsHookAnswer:
    if output.get("dryRun") is True:
        return dry_run_answer(output["status"], output["reason"], details)
    if output["status"] != HookStatus.SUCCEEDED:
        return failed(output["reason"] or "the validation did not pass", details)
    return succeeded("validation passed", details)


def dry_run_answer(verdict: HookStatus, reason: str | None, details: dict[str, Any]) -> EcsHookAnswer:
    """SUCCEEDED whatever the verdict, as a dry run never blocks a deployment; the reason tells the verdict."""
    if verdict == HookStatus.SUCCEEDED:
        return succeeded("dry run: the validation passed", {**details, "dryRun": True, "wouldHaveFailed": False})
    would_have = f"dry run: the validation would have failed: {reason or 'the validation did not pass'}"
    logger.warning("answering SUCCEEDED for a dry run that would have failed", extra={"reason": would_have})
    return succeeded(_one_line(would_have), {**details, "dryRun": True, "wouldHaveFailed": True})


def resolve_suite(invocation: EcsHookEvent, settings: EcsHookSettings, suites: SuiteStore) -> ResolvedSuite | str:
    """The suite hookDetails names or carries, else the service's in the catalog, else the stage's bundled one,
    aimed at its target; with none of them, why there is nothing to validate."""
    found = _configured_suite(invocation, settings, suites)
    looked_in = ""
    if found is None and settings.catalog is not None:
        entry = _catalog_entry(invocation, settings.catalog)
        found = catalog_suite(suites, settings.catalog.bucket, entry, settings.budget_seconds)
        looked_in = f": no suite at {catalog_location(settings.catalog.bucket, entry)} and none bundled for the stage"
    if found is None:
        name = DEFAULT_SUITES.get(invocation.lifecycle_stage)
        if name is None:
            return f"nothing to validate at {invocation.lifecycle_stage}{looked_in}"
        found = file_suite(_bundled(settings.suites_dir, name), settings.budget_seconds)
    base_url = invocation.hook_details.get("targetBaseUrl", settings.target_base_url)
    if base_url is not None and not isinstance(base_url, str):
        raise SuiteError(["hookDetails.targetBaseUrl: must be a URL"])
    aimed = aim_suite(found.suite, base_url, None, function_arn_prefix(settings.state_machine_arn))
    return ResolvedSuite(aimed.suite, found.source)


def _configured_suite(invocation: EcsHookEvent, settings: EcsHookSettings, suites: SuiteStore) -> ResolvedSuite | None:
    configured = invocation.hook_details.get("suite")
    if isinstance(configured, dict):
        return inline_suite(parse_suite(configured, settings.budget_seconds, "hookDetails.suite"), "hookDetails.suite")
    if isinstance(configured, str) and configured.startswith(S3_SCHEME):
        return s3_suite(suites, configured, settings.budget_seconds, "hookDetails.suite")
    if isinstance(configured, str):
        return file_suite(_bundled(settings.suites_dir, configured), settings.budget_seconds)
    if configured is not None:
        raise SuiteError(["hookDetails.suite: must be a bundled suite's name, an s3:// URI or a suite object"])
    return None


def _catalog_entry(invocation: EcsHookEvent, catalog: SuiteCatalog) -> CatalogEntry:
    service = cluster_and_service(invocation.service_arn)
    if service is None:  # with the catalog on, a bundled suite must never stand in for one that may be published
        raise SetupFailed(
            f"executionDetails.serviceArn: {invocation.service_arn!r} names no cluster and service "
            "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>): the service's suite cannot be looked up"
        )
    return ecs_entry(catalog.prefix, *service, invocation.lifecycle_stage)


def _bundled(suites_dir: Path, name: str) -> Path:
    if not _SUITE_NAME.match(name):
        raise SuiteError([f"hookDetails.suite: {name!r} is no bundled suite's name (lower-case letters, digits, '-')"])
    return suites_dir / f"{name}.yaml"


def validation_name(invocation: EcsHookEvent) -> str:
    """One execution per deployment, stage and traffic step, so a repeated invocation never starts another."""
    stage, weight = invocation.lifecycle_stage, f"{invocation.production_weight:g}"
    return execution_name(f"ECS-{stage}-{weight}", f"{invocation.execution_id}/{stage}/{weight}")


def deployment_of(invocation: EcsHookEvent) -> EcsDeployment:
    return {
        "controller": Controller.ECS,
        "executionId": invocation.execution_id,
        "lifecycleStage": invocation.lifecycle_stage,
        "serviceArn": invocation.service_arn,
        "targetServiceRevisionArn": invocation.target_revision_arn,
        "productionWeight": invocation.production_weight,
    }


def callback_delay_seconds(suite: Suite) -> int:
    """A tenth of the suite's worst case, between 5 and 30 s: a smoke stage is asked again soon, a soak later."""
    tenth = math.ceil(worst_case_seconds(suite.document) / 10)
    return max(MIN_CALLBACK_SECONDS, min(MAX_CALLBACK_SECONDS, tenth))


def in_progress(details: dict[str, Any], delay: int) -> EcsHookAnswer:
    return {"hookStatus": EcsHookStatus.IN_PROGRESS, "callBackDelay": delay, "hookDetails": details}


def succeeded(reason: str, details: dict[str, Any] | None = None) -> EcsHookAnswer:
    return {"hookStatus": EcsHookStatus.SUCCEEDED, "hookDetails": {**(details or {}), "reason": reason}}


def failed(reason: str, details: dict[str, Any] | None = None) -> EcsHookAnswer:
    one_line = _one_line(reason)
    logger.warning("answering FAILED", extra={"reason": one_line})
    return {"hookStatus": EcsHookStatus.FAILED, "hookDetails": {**(details or {}), "reason": one_line}}


def _one_line(reason: str) -> str:
    one_line = " ".join(reason.split())
    if len(one_line) > MAX_REASON_CHARS:
        one_line = one_line[: MAX_REASON_CHARS - 3] + "..."
    return one_line


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEcsEvent(f"{field}: expected an object, got {type(value).__name__}")
    return value


def _text(document: dict[str, Any], name: str, prefix: str = "") -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEcsEvent(f"{prefix}{name}: missing or not text")
    return value


def _stage(event: dict[str, Any]) -> LifecycleStage:
    stage = _text(event, "lifecycleStage")
    try:
        return LifecycleStage(stage)
    except ValueError:
        raise MalformedEcsEvent(f"lifecycleStage: {stage[:40]!r} is no ECS lifecycle stage") from None


def _weight(details: dict[str, Any], name: str, revision_arn: str) -> float:
    """The revision's weight in a traffic-weights map; a revision the map does not name has none of it."""
    weights = details.get(name)
    if weights is None:
        return 0
    if not isinstance(weights, dict):
        raise MalformedEcsEvent(f"executionDetails.{name}: expected an object, got {type(weights).__name__}")
    weight = weights.get(revision_arn, 0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise MalformedEcsEvent(f"executionDetails.{name}: the weight of {revision_arn} is not a number")
    return float(weight)
