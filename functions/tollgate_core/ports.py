"""What the domain needs from the outside world: a place to report a status, a way to start a workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

RECORDED, ALREADY_COMPLETED = "recorded", "already-completed"


@dataclass(frozen=True)
class HookIds:
    """The two ids CodeDeploy needs to accept a lifecycle hook's status."""

    deployment_id: str
    hook_execution_id: str


class StatusReporter(Protocol):
    def report(self, hook: HookIds, status: str) -> str:
        """Send Succeeded or Failed; return RECORDED, or ALREADY_COMPLETED when a status was already in."""
        ...


class ValidationAlreadyStarted(Exception):
    """An execution with this name exists: a repeated hook invocation, not a new validation."""

    def __init__(self, name: str) -> None:
        super().__init__(f"validation {name} was already started")
        self.name = name


class WorkflowStarter(Protocol):
    def start(self, name: str, document: dict[str, Any]) -> str:
        """Start the validation workflow; return the execution ARN or raise ValidationAlreadyStarted."""
        ...
