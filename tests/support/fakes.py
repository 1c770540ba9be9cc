"""In-memory stand-ins for the domain's ports, recording what happened."""

from __future__ import annotations

from tollgate_core.codedeploy_deployment import CodeDeployDeployment
from tollgate_core.contracts import ExecutionInput, HookStatus, StatusDelivery
from tollgate_core.ports import ExecutionFailure, HookIds, Listener, SetupFailed, StoredSuite, ValidationAlreadyStarted
from tollgate_core.validation_start import DeploymentSources


class RecordingStatusReporter:
    """A CodeDeploy that keeps the first status per hook, as the real one does."""

    def __init__(self) -> None:
        self.calls: list[tuple[HookIds, HookStatus]] = []
        self.statuses: dict[HookIds, HookStatus] = {}

    def report(self, hook: HookIds, status: HookStatus) -> StatusDelivery:
        self.calls.append((hook, status))
        if hook in self.statuses:
            return StatusDelivery.ALREADY_COMPLETED
        self.statuses[hook] = status
        return StatusDelivery.RECORDED


class RecordingStarter:
    def __init__(self) -> None:
        self.started: dict[str, ExecutionInput] = {}

    def start(self, name: str, document: ExecutionInput) -> str:
        if name in self.started:
            raise ValidationAlreadyStarted(name)
        self.started[name] = document
        return f"arn:aws:states:us-east-1:123456789012:execution:validation:{name}"


class KnownFailures:
    """A Step Functions that knows the error and cause of the executions it was told about."""

    def __init__(self, failures: dict[str, ExecutionFailure] | None = None) -> None:
        self.failures = failures or {}
        self.described: list[str] = []

    def failure(self, execution_arn: str) -> ExecutionFailure | None:
        self.described.append(execution_arn)
        return self.failures.get(execution_arn)


class NoSuites:
    def read(self, bucket: str, key: str) -> StoredSuite | None:
        raise SetupFailed(f"cannot read the suite s3://{bucket}/{key}: nothing to read here")


class NoDeployments:
    def read(self, deployment_id: str) -> CodeDeployDeployment:
        raise SetupFailed(f"cannot read deployment {deployment_id}: nothing to read here")


class NoListeners:
    def read(self, listener_arn: str) -> Listener:
        raise SetupFailed(f"cannot read listener {listener_arn}: nothing to read here")


def nothing_to_read() -> DeploymentSources:
    """An AWS where the hook can read no suite, deployment or listener: each read fails as a refusal would."""
    return DeploymentSources(NoSuites(), NoDeployments(), NoListeners())
