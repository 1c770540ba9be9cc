"""In-memory stand-ins for the domain's ports, recording what happened."""

from __future__ import annotations

from tollgate_core.contracts import ExecutionInput, HookStatus, StatusDelivery
from tollgate_core.ports import ExecutionFailure, HookIds, ValidationAlreadyStarted


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
