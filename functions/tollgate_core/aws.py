"""boto3 adapters for the ports: CodeDeploy's hook status, Step Functions' executions started and described."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tollgate_core.contracts import ExecutionInput, ExecutionStatus, HookStatus, StatusDelivery
from tollgate_core.ports import ExecutionFailure, ExecutionState, HookIds, ValidationAlreadyStarted

# Retries (mode and attempts) come from AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, set in template.yaml.
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15)


class CodeDeployStatusReporter:
    def __init__(self, client: Any = None) -> None:
        self._client = client or boto3.client("codedeploy", config=_CLIENT_CONFIG)

    def report(self, hook: HookIds, status: HookStatus) -> StatusDelivery:
        try:
            self._client.put_lifecycle_event_hook_execution_status(
                deploymentId=hook.deployment_id,
                lifecycleEventHookExecutionId=hook.hook_execution_id,
                status=status,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "LifecycleEventAlreadyCompletedException":
                return StatusDelivery.ALREADY_COMPLETED
            raise
        return StatusDelivery.RECORDED


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        self._state_machine_arn = state_machine_arn
        self._client = client or boto3.client("stepfunctions", config=_CLIENT_CONFIG)

    def start(self, name: str, document: ExecutionInput) -> str:
        try:
            response = self._client.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(document)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ValidationAlreadyStarted(name) from error
            raise
        arn: str = response["executionArn"]
        return arn


class StepFunctionsDescriber:
    """Reads executions; its client is made at the first read (the safety net needs one only now and then)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def failure(self, execution_arn: str) -> ExecutionFailure | None:
        return self.read(execution_arn).failure

    def read(self, execution_arn: str) -> ExecutionState:
        self._client = self._client or boto3.client("stepfunctions", config=_CLIENT_CONFIG)
        execution = self._client.describe_execution(executionArn=execution_arn)
        output = json.loads(execution["output"]) if execution.get("output") else None
        return ExecutionState(
            ExecutionStatus(execution["status"]),
            output,
            ExecutionFailure.of(execution.get("error"), execution.get("cause")),
        )
