"""Reading a validation wherever Step Functions ran it, into the report `tollgate run` makes (`tollgate inspect`).

Everything comes from the execution: its input (the deployment and the normalized suite), its history (every
round's results, as `run` reads them) and its output (the reporter's summary).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from tollgate.history import ProgressEvent, latest_progress
from tollgate.local_run import ExecutionWatch, RunOutcome, describe_execution
from tollgate.report import RunReport, build_report
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
    ExecutionInput,
    ExecutionOutput,
    ExecutionStatus,
    HookStatus,
    Progress,
    StageStatus,
    SuiteDocument,
)
from tollgate_core.suite import Suite

STATE_MACHINE_OUTPUT = "ValidationStateMachineArn"  # the stack output naming the state machine (template.yaml)
DEFAULT_SCAN = 1000  # executions searched for a deployment: each costs a DescribeExecution
WAIT_POLL_SECONDS = 0.5
_DESCRIBE_WORKERS = 8
_LIST_PAGE_SIZE = 100
# Hosts of AWS's own endpoints (regional, FIPS, dual-stack, VPC endpoints): an execution there has a console page.
_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
# Stages an execution that ended without a summary had not finished, as its last tally left them.
_UNFINISHED_AFTER_END = {StageStatus.RUNNING: StageStatus.INTERRUPTED, StageStatus.PENDING: StageStatus.SKIPPED}


class InspectionError(Exception):
    """Nothing to inspect: no such execution, stack or deployment, or AWS refused; the message says which."""


@dataclass(frozen=True)
class AwsSettings:
    """Where Step Functions is, as the AWS CLI takes it; None: the standard configuration chain decides."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of this region (else `region`, e.g. an ARN's, else the configured one)."""
        with aws_errors():
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region or region)
            return session.client(service, endpoint_url=self.endpoint_url, config=Config(retries={"mode": "standard"}))

    @property
    def on_aws(self) -> bool:
        """Whether the calls go to AWS itself (no endpoint given, or one of AWS's own), not to a local stand-in."""
        if self.endpoint_url is None:
            return True
        host = urlsplit(self.endpoint_url).hostname or ""
        return host.endswith(_AWS_DOMAINS)


@dataclass(frozen=True)
class FoundValidation:
    """An execution whose input carries the deployment asked for."""

    arn: str
    started: datetime
    status: str
    deployment: Deployment | EcsDeployment

    @property
    def lifecycle(self) -> str:
        """The CodeDeploy lifecycle event or the ECS lifecycle stage it validated."""
        deployment = cast(dict[str, Any], self.deployment)
        return str(deployment.get("lifecycleEvent") or deployment.get("lifecycleStage") or "")


@dataclass(frozen=True)
class Inspection:
    """One validation as its execution tells it, and its report."""

    report: RunReport
    suite: Suite
    history: list[dict[str, Any]]
    execution_status: ExecutionStatus
    console_url: str | None  # None when it did not run on AWS: a local engine's execution has no console page


@contextmanager
def aws_errors() -> Iterator[None]:
    """AWS's refusals and the SDK's configuration problems, as an InspectionError saying what to fix."""
    try:
        yield
    except NoCredentialsError:
        raise InspectionError(
            "no AWS credentials: configure them as for the AWS CLI (--profile, AWS_PROFILE, AWS_ACCESS_KEY_ID)"
        ) from None
    except NoRegionError:
        raise InspectionError("no AWS region: give --region, or set AWS_REGION or the profile's region") from None
    except (ClientError, BotoCoreError) as error:
        raise InspectionError(str(error)) from None


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 and parts[0] == "arn" else None


def state_machine_of_stack(cloudformation: Any, stack_name: str) -> str:
    """The validation state machine of a Tollgate stack, from the stack's outputs."""
    with aws_errors():
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output.get("OutputValue") for output in stacks[0].get("Outputs") or []}
    arn = outputs.get(STATE_MACHINE_OUTPUT)
    if not arn:
        raise InspectionError(f"stack {stack_name} has no output {STATE_MACHINE_OUTPUT}: is it a Tollgate stack?")
    return str(arn)


def find_validations(
    sfn: Any, state_machine_arn: str, deployment_id: str, lifecycle_event: str | None = None, scan: int = DEFAULT_SCAN
) -> list[FoundValidation]:
    """The validations of one deployment among the state machine's `scan` most recent executions, newest first.

    ListExecutions does not show inputs, so each execution is described; the scan bounds what that costs.
    """
    found: list[FoundValidation] = []
    with aws_errors(), ThreadPoolExecutor(_DESCRIBE_WORKERS) as pool:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, PaginationConfig={"MaxItems": scan, "PageSize": _LIST_PAGE_SIZE}
        )
        for page in pages:
            arns = [listed["executionArn"] for listed in page["executions"]]
            for execution in pool.map(lambda arn: describe_execution(sfn, arn), arns):
                validation = _validation_of(execution)
                if validation and carries_deployment(validation.deployment, deployment_id, lifecycle_event):
                    found.append(validation)
    return sorted(found, key=lambda validation: validation.started, reverse=True)


def carries_deployment(
    deployment: Deployment | EcsDeployment, deployment_id: str, lifecycle_event: str | None = None
) -> bool:
    """Whether an execution's deployment is this CodeDeploy deployment or ECS service deployment (at this stage)."""
    fields = cast(dict[str, Any], deployment)
    if deployment_id not in (fields.get("deploymentId"), fields.get("executionId")):
        return False
    return lifecycle_event is None or lifecycle_event in (fields.get("lifecycleEvent"), fields.get("lifecycleStage"))


def _validation_of(execution: dict[str, Any] | None) -> FoundValidation | None:
    if execution is None:  # gone since it was listed
        return None
    try:
        deployment = json.loads(execution.get("input") or "{}")["deployment"]
    except (ValueError, KeyError, TypeError):  # not started by a Tollgate hook
        return None
    if not isinstance(deployment, dict):
        return None
    return FoundValidation(
        execution["executionArn"],
        execution["startDate"],
        execution["status"],
        cast(Deployment | EcsDeployment, deployment),
    )


def inspect_execution(
    sfn: Any,
    arn: str,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    wait: bool = False,
    console_url: str | None = None,
) -> Inspection:
    """The validation an execution ran, read from its history and output; with `wait`, once it has ended."""
    with aws_errors():
        execution = _described(sfn, arn)
        execution_input = _validation_input(execution)
        outcome = RunOutcome(HookStatus.PENDING, None, 0.0, None, None, None)
        watch = ExecutionWatch(sfn, arn, outcome, on_progress)
        while wait and execution["status"] == ExecutionStatus.RUNNING:
            watch.read_progress()
            time.sleep(WAIT_POLL_SECONDS)
            execution = _described(sfn, arn)
        watch.finish(execution)
    # Executions started before dry runs existed carry no dryRun: they were no dry runs.
    suite = Suite(cast(SuiteDocument, {"dryRun": False, **execution_input["suite"]}))
    report = inspection_report(execution, outcome, suite, execution_input["deployment"])
    return Inspection(report, suite, outcome.history, ExecutionStatus(execution["status"]), console_url)


def _described(sfn: Any, arn: str) -> dict[str, Any]:
    execution = describe_execution(sfn, arn)
    if execution is None:
        raise InspectionError(f"no execution {arn}")
    return execution


def _validation_input(execution: dict[str, Any]) -> ExecutionInput:
    try:
        document = json.loads(execution.get("input") or "{}")
        readable = isinstance(document["suite"]["stages"], list) and isinstance(document["deployment"], dict)
    except (ValueError, KeyError, TypeError):
        readable = False
    if not readable:
        arn = execution["executionArn"]
        raise InspectionError(f"{arn} is no Tollgate validation: its input has no suite and deployment")
    return cast(ExecutionInput, document)


def inspection_report(
    execution: dict[str, Any], outcome: RunOutcome, suite: Suite, deployment: Deployment | EcsDeployment
) -> RunReport:
    """The report of an execution whose history and output `outcome` holds; reportedStatus as `delivered_status`."""
    status = ExecutionStatus(execution["status"])
    outcome.reported_status = delivered_status(status, outcome.summary)
    outcome.duration_seconds = _duration_seconds(execution)
    controller = Controller.ECS if deployment.get("controller") == Controller.ECS else Controller.CODEDEPLOY
    report = build_report(outcome, suite, controller, deployment)
    if status is ExecutionStatus.RUNNING:
        report["reason"] = "the validation is still running"
    if outcome.summary is None:  # no summary says how the stages stand: the last tally does
        _stage_statuses_from(latest_progress(outcome.history), report, ended=status is not ExecutionStatus.RUNNING)
    return report


def delivered_status(status: ExecutionStatus, summary: ExecutionOutput | None) -> HookStatus:
    """What the validation delivered to its deployment, as far as the execution tells it.

    An execution that succeeded delivered what its summary says the deployment received (`reportedStatus`: the
    verdict, or Succeeded for a dry run; summaries written before that field existed: their verdict). For
    CodeDeploy the reporter sent it: its `codeDeploy` says it was `recorded`, or `already-completed` (an earlier
    call for the same hook was accepted: in Tollgate the reporter's own earlier attempt); the ECS hook answers it.
    An execution that ended FAILED, TIMED_OUT or ABORTED delivers Failed: the safety net reports it to
    CodeDeploy, the ECS hook answers FAILED. Pending while it runs.
    """
    if status is ExecutionStatus.RUNNING:
        return HookStatus.PENDING
    if status is not ExecutionStatus.SUCCEEDED or summary is None:
        return HookStatus.FAILED
    return summary.get("reportedStatus") or summary["status"]


def _duration_seconds(execution: dict[str, Any]) -> float:
    ended: datetime = execution.get("stopDate") or datetime.now(UTC)
    started: datetime = execution["startDate"]
    return round((ended - started).total_seconds(), 3)


def _stage_statuses_from(progress: Progress | None, report: RunReport, ended: bool) -> None:
    if progress is None:
        return
    statuses = {stage["name"]: stage["status"] for stage in progress["stages"]}
    for stage in report["stages"]:
        status = statuses.get(stage["name"], stage["status"])
        stage["status"] = _UNFINISHED_AFTER_END.get(status, status) if ended else status


def console_url(arn: str, aws: AwsSettings) -> str | None:
    """The execution's page in the Step Functions console, when it ran on AWS: a local engine has no console."""
    return execution_console_url(arn) if aws.on_aws else None
