"""The local CodeDeploy: deployments waiting on lifecycle hooks, and the statuses they received.

It answers PutLifecycleEventHookExecutionStatus with AWS's semantics, and records every call so
tests and the CLI read what CodeDeploy was told, not what the workflow believes it said.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from tollgate_core.contracts import HookStatus

VALID_STATUSES = (HookStatus.SUCCEEDED, HookStatus.FAILED)


class CodeDeployError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class HookExecution:
    deployment_id: str
    hook_execution_id: str
    lifecycle_event: str
    status: HookStatus = HookStatus.PENDING
    created_at: float = field(default_factory=time.monotonic)  # when the deployment began waiting on the hook
    reported_at: float | None = None
    calls: list[str] = field(default_factory=list)  # every status sent, accepted or not
    accepted_calls: int = 0  # calls that set the status; AWS semantics allow one

    @property
    def seconds_to_status(self) -> float | None:
        """From the deployment waiting on the hook to the status it accepted."""
        return None if self.reported_at is None else round(self.reported_at - self.created_at, 3)


class LocalCodeDeploy:
    def __init__(self) -> None:
        self._hooks: dict[str, HookExecution] = {}
        self._deployments: set[str] = set()
        self._faults: list[CodeDeployError] = []
        self._lock = threading.Lock()
        self._reported = threading.Condition(self._lock)

    def create_deployment(self, lifecycle_event: str) -> HookExecution:
        """A deployment waiting on one lifecycle hook, with ids shaped like CodeDeploy's."""
        deployment_id = "d-" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))
        # Real hook execution ids are opaque tokens of about 300 characters.
        hook = HookExecution(deployment_id, "eyJ" + secrets.token_urlsafe(222), lifecycle_event)
        with self._lock:
            self._deployments.add(deployment_id)
            self._hooks[hook.hook_execution_id] = hook
        return hook

    def fail_next_calls(self, count: int, code: str = "ThrottlingException") -> None:
        """Answer the next `count` status calls with an error, as AWS does when it throttles or fails."""
        with self._lock:
            self._faults += [CodeDeployError(code, f"Rate exceeded ({code}, injected)")] * count

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def put_lifecycle_event_hook_execution_status(self, deployment_id: str, hook_execution_id: str, status: str) -> str:
        with self._lock:
            hook = self._hooks.get(hook_execution_id)
            if hook is not None:
                hook.calls.append(status)
            if self._faults:
                raise self._faults.pop(0)
            if deployment_id not in self._deployments:
                raise CodeDeployError(
                    "DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found."
                )
            if hook is None or hook.deployment_id != deployment_id:
                raise CodeDeployError(
                    "InvalidLifecycleEventHookExecutionIdException",
                    "A lifecycle event hook is invalid.",
                )
            if status not in VALID_STATUSES:
                raise CodeDeployError(
                    "InvalidLifecycleEventHookExecutionStatusException",
                    f"The result of a Lambda validation function ({status}) is invalid.",
                )
            if hook.status != HookStatus.PENDING:
                raise CodeDeployError(
                    "LifecycleEventAlreadyCompletedException",
                    "An attempt to return the status of an already completed lifecycle event occurred.",
                )
            hook.status = HookStatus(status)
            hook.accepted_calls += 1
            hook.reported_at = time.monotonic()
            self._reported.notify_all()
            return hook_execution_id

    def hook(self, hook_execution_id: str) -> HookExecution:
        with self._lock:
            return self._hooks[hook_execution_id]

    def wait_for_status(self, hook_execution_id: str, timeout_seconds: float) -> str:
        """The recorded status once there is one, or 'Pending' after the timeout."""
        deadline = time.monotonic() + timeout_seconds
        with self._reported:
            hook = self._hooks[hook_execution_id]
            while hook.status == HookStatus.PENDING and time.monotonic() < deadline:
                self._reported.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            return hook.status
