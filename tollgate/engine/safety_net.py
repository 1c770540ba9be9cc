"""What EventBridge does on AWS: deliver "Step Functions Execution Status Change" events to the rule's target.

Only executions that end in a status the rule matches (FAILED, TIMED_OUT, ABORTED) are delivered,
each once, to the function whose EventBridgeRule in template.yaml asks for them; a delivery the
function fails is retried with backoff up to the rule's MaximumRetryAttempts, as EventBridge does
(on a compressed schedule).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tollgate.engine.lambda_runtime import LambdaRuntime, RuntimeStopped
from tollgate.engine.stack import ACCOUNT_ID, REGION
from tollgate.engine.template import FunctionSpec

POLL_SECONDS = 0.2
_FIRST_RETRY_SECONDS = 0.5
_MAX_RETRY_SECONDS = 8.0
logger = logging.getLogger(__name__)


@dataclass
class _Delivery:
    event: dict[str, Any]
    due: float
    attempt: int = 0


class SafetyNet:
    def __init__(
        self, stepfunctions: Any, state_machine_arn: str, target: FunctionSpec, runtime: LambdaRuntime
    ) -> None:
        self._stepfunctions = stepfunctions
        self._state_machine_arn = state_machine_arn
        self._target = target
        self._runtime = runtime
        self._seen: set[str] = set()
        self._pending: list[_Delivery] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tollgate-safety-net", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            try:
                self._find_ended_executions()
            except Exception:  # a hiccup of the local API must not end the watch
                logger.exception("safety net: cannot list executions; trying again")
            self._deliver_due()

    def _find_ended_executions(self) -> None:
        for status in self._target.execution_ended_statuses:
            paginator = self._stepfunctions.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=self._state_machine_arn, statusFilter=status):
                for execution in page["executions"]:
                    arn = execution["executionArn"]
                    if arn not in self._seen:
                        event = status_change_event(self._stepfunctions.describe_execution(executionArn=arn))
                        self._seen.add(arn)
                        self._pending.append(_Delivery(event, due=time.monotonic()))

    def _deliver_due(self) -> None:
        now = time.monotonic()
        for delivery in [d for d in self._pending if d.due <= now]:
            self._pending.remove(delivery)
            try:
                failed = self._runtime.invoke(self._target.name, json.dumps(delivery.event).encode()).function_error
            except RuntimeStopped:
                return
            if failed and delivery.attempt < self._target.execution_ended_retries:
                delay = min(_FIRST_RETRY_SECONDS * 2**delivery.attempt, _MAX_RETRY_SECONDS)
                self._pending.append(_Delivery(delivery.event, time.monotonic() + delay, delivery.attempt + 1))


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
