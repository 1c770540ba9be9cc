"""What the domain needs from the outside world: a place to report a status, a way to start a workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tollgate_core.codedeploy_deployment import CodeDeployDeployment
from tollgate_core.contracts import ExecutionInput, ExecutionOutput, ExecutionStatus, HookStatus, StatusDelivery


@dataclass(frozen=True)
class HookIds:
    """The two ids CodeDeploy needs to accept a lifecycle hook's status."""

    deployment_id: str
    hook_execution_id: str


class StatusReporter(Protocol):
    def report(self, hook: HookIds, status: HookStatus) -> StatusDelivery:
        """Send Succeeded or Failed; say whether it was recorded or a status was already in."""
        ...


class ValidationAlreadyStarted(Exception):
    """An execution with this name exists: a repeated hook invocation, not a new validation."""

    def __init__(self, name: str) -> None:
        super().__init__(f"validation {name} was already started")
        self.name = name


class WorkflowStarter(Protocol):
    def start(self, name: str, document: ExecutionInput) -> str:
        """Start the validation workflow; return the execution ARN or raise ValidationAlreadyStarted."""
        ...


@dataclass(frozen=True)
class ExecutionFailure:
    """Why an execution ended without success, in Step Functions' own words."""

    error: str | None
    cause: str | None

    @classmethod
    def of(cls, error: str | None, cause: str | None) -> ExecutionFailure | None:
        """The failure an execution, or its status-change event, records; None when it records neither."""
        return cls(error, cause) if error or cause else None


@dataclass(frozen=True)
class ExecutionState:
    """Where an execution stands, as DescribeExecution tells it."""

    status: ExecutionStatus
    output: ExecutionOutput | None  # the reporter's summary, once it SUCCEEDED
    failure: ExecutionFailure | None


class ExecutionReader(Protocol):
    def read(self, execution_arn: str) -> ExecutionState: ...


class ExecutionDescriber(Protocol):
    def failure(self, execution_arn: str) -> ExecutionFailure | None:
        """The error and cause an ended execution recorded, or None when it recorded neither."""
        ...


class SetupFailed(Exception):
    """Something the hook needs to prepare a validation could not be read; the message says what and why."""


@dataclass(frozen=True)
class StoredSuite:
    """A suite object as S3 holds it: the bytes the user published, and which version of them."""

    content: bytes
    version_id: str | None  # None in a bucket without versioning
    etag: str | None


class SuiteStore(Protocol):
    def read(self, bucket: str, key: str) -> StoredSuite | None:
        """The object, or None when the key does not exist; SetupFailed when it cannot tell (denied, unreachable)."""
        ...


class DeploymentReader(Protocol):
    def read(self, deployment_id: str) -> CodeDeployDeployment:
        """The deployment as GetDeployment describes it; SetupFailed when it cannot be read."""
        ...


@dataclass(frozen=True)
class Listener:
    """A load balancer listener, as far as a probe needs it: how to reach it."""

    arn: str
    protocol: str  # HTTP, HTTPS, TCP, ...
    port: int
    dns_name: str  # its load balancer's


class ListenerReader(Protocol):
    def read(self, listener_arn: str) -> Listener:
        """The listener and its load balancer's DNS name; SetupFailed when either cannot be read."""
        ...
