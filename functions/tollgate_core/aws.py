"""boto3 adapters for the ports: CodeDeploy's hook status, Step Functions' executions started and described."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from tollgate_core.aws_clients import LazyClient
from tollgate_core.contracts import ExecutionInput, ExecutionStatus, HookStatus, StatusDelivery
from tollgate_core.ports import ExecutionFailure, ExecutionState, HookIds, ValidationAlreadyStarted


class CodeDeployStatusReporter(LazyClient):
    def __init__(self, client: Any = None) -> None:
        super().__init__("codedeploy", client)

    def report(self, hook: HookIds, status: HookStatus) -> StatusDelivery:
        try:
            self.client.put_lifecycle_event_hook_execution_status(
                deploymentId=hook.deployment_id,
                lifecycleEventHookExecutionId=hook.hook_execution_id,
                status=status,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "LifecycleEventAlreadyCompletedException":
                return StatusDelivery.ALREADY_COMPLETED
            raise
        return StatusDelivery.RECORDED


class StepFunctionsStarter(LazyClient):
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        super().__init__("stepfunctions", client)
        self._state_machine_arn = state_machine_arn

    def start(self, name: str, document: ExecutionInput) -> str:
        try:
            response = self.client.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(document)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ValidationAlreadyStarted(name) from error
            raise
        arn: str = response["executionArn"]
        return arn


class StepFunctionsDescriber(LazyClient):
    """Reads executions (the safety net needs to only now and then)."""

    def __init__(self, client: Any = None) -> None:
        super().__init__("stepfunctions", client)

    def failure(self, execution_arn: str) -> ExecutionFailure | None:
        return self.read(execution_arn).failure

    def read(self, execution_arn: str) -> ExecutionState:
        execution = self.client.describe_execution(executionArn=execution_arn)
        output = json.loads(execution["output"]) if execution.get("output") else None
        return ExecutionState(
            ExecutionStatus(execution["status"]),
            output,
            ExecutionFailure.of(execution.get("error"), execution.get("cause")),
        )
