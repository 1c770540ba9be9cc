"""What EventBridge does on AWS: deliver "Step Functions Execution Status Change" events to the rule's target.

Only executions that end in a status the rule matches (FAILED, TIMED_OUT, ABORTED) are delivered,
each once, to the function whose EventBridgeRule in template.yaml asks for them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from tollgate.engine.lambda_runtime import LambdaRuntime
from tollgate.engine.template import ACCOUNT_ID, REGION, FunctionSpec

POLL_SECONDS = 0.2
logger = logging.getLogger(__name__)


class SafetyNet:
    def __init__(
        self, stepfunctions: Any, state_machine_arn: str, target: FunctionSpec, runtime: LambdaRuntime
    ) -> None:
        self._stepfunctions = stepfunctions
        self._state_machine_arn = state_machine_arn
        self._target = target
        self._runtime = runtime
        self._delivered: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tollgate-safety-net", daemon=True)
        self.deliveries: list[dict[str, Any]] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            try:
                self.deliver_pending()
            except Exception:
                logger.exception("safety net: cannot list executions; trying again")

    def deliver_pending(self) -> None:
        for status in self._target.execution_ended_statuses:
            paginator = self._stepfunctions.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=self._state_machine_arn, statusFilter=status):
                for execution in page["executions"]:
                    self._deliver_once(execution["executionArn"])

    def _deliver_once(self, execution_arn: str) -> None:
        with self._lock:
            if execution_arn in self._delivered:
                return
            event = status_change_event(self._stepfunctions.describe_execution(executionArn=execution_arn))
            self._delivered.add(execution_arn)
        self.deliveries.append(event)
        self._runtime.invoke(self._target.name, json.dumps(event).encode("utf-8"))


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The event EventBridge sends for an execution that changed status."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution.get("name") or execution["executionArn"].rsplit(":", 1)[-1],
            "status": execution["status"],
            "startDate": millis(execution.get("startDate")),
            "stopDate": millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }
