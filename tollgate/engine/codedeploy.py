"""The local CodeDeploy: deployments waiting on lifecycle hooks, and the statuses they received.

It answers GetDeployment and PutLifecycleEventHookExecutionStatus with AWS's shapes and errors, and records
every status call so tests and the CLI read what CodeDeploy was told, not what the workflow believes it said.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import yaml

from tollgate.engine.elbv2 import LocalListeners
from tollgate_core.contracts import HookStatus

VALID_STATUSES = (HookStatus.SUCCEEDED, HookStatus.FAILED)
LOCAL_APPLICATION = "tollgate-local"
LOCAL_DEPLOYMENT_GROUP = "tollgate-local"
_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{9}$")


class ComputePlatform(StrEnum):
    SERVER = "Server"
    LAMBDA = "Lambda"
    ECS = "ECS"


# What CodeDeploy uses when a deployment group names no deployment configuration.
_DEFAULT_CONFIGS = {
    ComputePlatform.SERVER: "CodeDeployDefault.OneAtATime",
    ComputePlatform.LAMBDA: "CodeDeployDefault.LambdaAllAtOnce",
    ComputePlatform.ECS: "CodeDeployDefault.ECSAllAtOnce",
}


class RevisionType(StrEnum):
    APP_SPEC_CONTENT = "AppSpecContent"  # an AppSpec given inline, as `aws deploy create-deployment` takes it
    STRING = "String"  # the same as raw text: what CloudFormation passes for SAM's Lambda deployments


@dataclass(frozen=True)
class Revision:
    """The revision a deployment deploys: an AppSpec as text."""

    revision_type: RevisionType
    content: str

    def document(self) -> dict[str, Any]:
        """The revision as GetDeployment describes it."""
        key = "appSpecContent" if self.revision_type is RevisionType.APP_SPEC_CONTENT else "string"
        sha256 = hashlib.sha256(self.content.encode("utf-8")).hexdigest()
        return {"revisionType": self.revision_type.value, key: {"content": self.content, "sha256": sha256}}


@dataclass(frozen=True)
class LambdaAppSpec:
    """A Lambda deployment's AppSpec: which function's alias moves from which version to which.

    Locally a function has one version, so the versions are notional: any of them runs the same code.
    """

    function: str  # the AppSpec's Name
    alias: str
    current_version: str = "1"
    target_version: str = "2"

    def revision(self, revision_type: RevisionType = RevisionType.APP_SPEC_CONTENT) -> Revision:
        """As YAML when given inline (as people write appspec.yaml), as JSON when passed as a string."""
        properties = {
            "Name": self.function,
            "Alias": self.alias,
            "CurrentVersion": self.current_version,
            "TargetVersion": self.target_version,
        }
        app_spec = {
            "version": 0.0,
            "Resources": [{self.function: {"Type": "AWS::Lambda::Function", "Properties": properties}}],
        }
        if revision_type is RevisionType.STRING:
            return Revision(revision_type, json.dumps(app_spec))
        return Revision(revision_type, yaml.safe_dump(app_spec, sort_keys=False))


@dataclass(frozen=True)
class LocalDeployment:
    deployment_id: str
    application: str
    deployment_group: str
    compute_platform: ComputePlatform
    created: datetime
    listeners: LocalListeners | None = None  # an ECS deployment's test and production traffic routes
    revision: Revision | None = None

    def info(self) -> dict[str, Any]:
        """GetDeployment's deploymentInfo."""
        created = self.created.timestamp()
        info: dict[str, Any] = {
            "applicationName": self.application,
            "deploymentGroupName": self.deployment_group,
            "deploymentConfigName": _DEFAULT_CONFIGS[self.compute_platform],
            "deploymentId": self.deployment_id,
            "status": "InProgress",
            "createTime": created,
            "startTime": created,
            "creator": "user",
            "computePlatform": self.compute_platform.value,
        }
        if self.compute_platform is not ComputePlatform.SERVER:
            info["deploymentStyle"] = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
        if self.revision is not None:
            info["revision"] = self.revision.document()
        if self.listeners is not None:
            info["loadBalancerInfo"] = {"targetGroupPairInfoList": [_traffic_routes(self.listeners)]}
        return info


def _traffic_routes(listeners: LocalListeners) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    if listeners.production is not None:
        routes["prodTrafficRoute"] = {"listenerArns": [listeners.production]}
    if listeners.test is not None:
        routes["testTrafficRoute"] = {"listenerArns": [listeners.test]}
    return routes


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
        self._deployments: dict[str, LocalDeployment] = {}
        self._faults: list[CodeDeployError] = []
        self._lock = threading.Lock()
        self._reported = threading.Condition(self._lock)

    def create_deployment(
        self,
        lifecycle_event: str,
        *,
        application: str = LOCAL_APPLICATION,
        deployment_group: str = LOCAL_DEPLOYMENT_GROUP,
        compute_platform: ComputePlatform = ComputePlatform.ECS,
        listeners: LocalListeners | None = None,
        revision: Revision | None = None,
    ) -> HookExecution:
        """A deployment waiting on one lifecycle hook, with ids shaped like CodeDeploy's; GetDeployment describes it."""
        deployment_id = "d-" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))
        deployment = LocalDeployment(
            deployment_id, application, deployment_group, compute_platform, datetime.now(UTC), listeners, revision
        )
        # Real hook execution ids are opaque tokens of about 300 characters.
        hook = HookExecution(deployment_id, "eyJ" + secrets.token_urlsafe(222), lifecycle_event)
        with self._lock:
            self._deployments[deployment_id] = deployment
            self._hooks[hook.hook_execution_id] = hook
        return hook

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to one CodeDeploy API call; a CodeDeployError is AWS's error for it."""
        if operation == "GetDeployment":
            return {"deploymentInfo": self.get_deployment(request.get("deploymentId")).info()}
        if operation == "PutLifecycleEventHookExecutionStatus":
            hook_id = self.put_lifecycle_event_hook_execution_status(
                request.get("deploymentId", ""),
                request.get("lifecycleEventHookExecutionId", ""),
                request.get("status", ""),
            )
            return {"lifecycleEventHookExecutionId": hook_id}
        raise CodeDeployError("UnknownOperationException", f"{operation} is not served locally")

    def get_deployment(self, deployment_id: Any) -> LocalDeployment:
        if not deployment_id:
            raise CodeDeployError("DeploymentIdRequiredException", "A deployment ID must be specified.")
        if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.match(deployment_id):
            raise CodeDeployError(
                "InvalidDeploymentIdException", "At least one of the deployment IDs was specified in an invalid format."
            )
        with self._lock:
            deployment = self._deployments.get(deployment_id)
        if deployment is None:
            raise CodeDeployError(
                "DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found."
            )
        return deployment

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
