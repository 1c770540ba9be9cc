"""The largest document a suite makes the workflow carry, against Step Functions' payload limit.

Step Functions fails an execution whose input, or any state's input or output, exceeds 256 KiB
(`States.DataLimitExceeded`). The top-level state is largest right after a round: the execution
input with its progress grown to every route's aggregate, plus the round's input and results.
"""

from __future__ import annotations

import json
import math

from tollgate_core.contracts import (
    Check,
    CheckKind,
    Controller,
    ExecutionInput,
    LatencyAggregate,
    ListenerRole,
    ProbeResult,
    Progress,
    RouteProgress,
    Stage,
    SuiteDocument,
    SuiteSourceKind,
    WorkflowState,
)
from tollgate_core.expectations import MAX_REASON_CHARS
from tollgate_core.progress import initial_progress

STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
# Worst cases for what the suite does not fix: ids CodeDeploy assigns, counts and reasons measured later.
_HOOK_EXECUTION_ID = "h" * 512
_DEPLOYMENT_ID = "d-" + "D" * 9
_LIFECYCLE_EVENT = "AfterAllowTestTraffic"
_CODEDEPLOY_NAME = "n" * 100  # an application's or deployment group's longest name
_S3_LOCATION = "s3://" + "b" * 63 + "/" + "k" * 1024  # S3's longest bucket name and key
_VERSION = "v" * 64  # S3 version ids and ETags are 32 characters; twice that, to be safe
_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/" + "a" * 256
_URL = "https://" + "h" * 253 + ":65535"
_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:" + "f" * 64 + ":" + "9" * 10
_REASON = "r" * MAX_REASON_CHARS
_MILLISECONDS = 60_000.0
_LONGEST_NUMBER = (
    -2.2250738585072014e-308
)  # no float's JSON text is longer  # the longest a request may take: timeoutSeconds is at most 60


def payload_problems(document: SuiteDocument) -> list[str]:
    """A problem naming the size and what to reduce when a state would exceed the limit."""
    largest, stage = max((_state_bytes(document, stage), stage["name"]) for stage in document["stages"])
    if largest <= STATE_PAYLOAD_LIMIT_BYTES:
        return []
    return [
        f"(suite): the workflow would carry documents of up to {_kib(largest)} between states "
        f"(after a round of stage {stage!r}), over Step Functions' limit of {_kib(STATE_PAYLOAD_LIMIT_BYTES)}; "
        "use fewer checks or shorter ones (names, paths, headers, bodies, expectations, queries)"
    ]


def _state_bytes(document: SuiteDocument, stage: Stage) -> int:
    state: WorkflowState = {
        **_execution_input(document),
        "current": {
            "stage": stage,
            "round": stage["rounds"],
            "target": document["target"],
            "maxConcurrency": document["maxConcurrency"],
        },
        "roundResults": [_probe_result(stage, check) for check in stage["checks"]],
    }
    return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


def _execution_input(document: SuiteDocument) -> ExecutionInput:
    return {
        "deployment": {
            "deploymentId": _DEPLOYMENT_ID,
            "lifecycleEventHookExecutionId": _HOOK_EXECUTION_ID,
            "lifecycleEvent": _LIFECYCLE_EVENT,
            "controller": Controller.CODEDEPLOY,
            # What the hook may add about the deployment, at its longest.
            "application": _CODEDEPLOY_NAME,
            "deploymentGroup": _CODEDEPLOY_NAME,
            "suiteSource": {
                "kind": SuiteSourceKind.S3,
                "location": _S3_LOCATION,
                "versionId": _VERSION,
                "etag": _VERSION,
            },
            "targetListener": {"role": ListenerRole.PRODUCTION, "listenerArn": _ARN, "url": _URL},
            "lambdaTarget": {
                "function": _FUNCTION_ARN,
                "alias": _CODEDEPLOY_NAME,
                "currentVersion": _VERSION,
                "targetVersion": _VERSION,
                "arn": _FUNCTION_ARN,
            },
        },
        "suite": document,
        "validation": {"progress": _grown_progress(document)},
        "error": None,
    }


def _grown_progress(document: SuiteDocument) -> Progress:
    """The progress once every route of every stage has its aggregate and every count is large."""
    progress = initial_progress(document["stages"])
    for stage_progress, stage in zip(progress["stages"], document["stages"], strict=True):
        stage_progress["routes"] = [_route_progress(check, stage["rounds"]) for check in stage["checks"]]
        stage_progress["roundsRun"] = stage["rounds"]
        stage_progress["probes"] = stage_progress["failedProbes"] = stage["rounds"] * len(stage["checks"])
    return {**progress, "reason": _REASON * 2}


def _attempts(check: Check) -> int:
    return 1 if check["kind"] == CheckKind.METRIC else check["retry"]["maxAttempts"]


def _route_progress(check: Check, rounds: int) -> RouteProgress:
    attempts = rounds * _attempts(check)
    latency: LatencyAggregate = {
        "min": _MILLISECONDS,
        "max": _MILLISECONDS,
        "sum": _MILLISECONDS * attempts,
        "count": attempts,
    }
    return {
        "route": check["name"],
        "probes": rounds,
        "failed": rounds,
        "attempts": attempts,
        "latencyMs": latency,
        "lastReason": _REASON,
    }


def _probe_result(stage: Stage, check: Check) -> ProbeResult:
    result: ProbeResult = {
        "stage": stage["name"],
        "route": check["name"],
        "round": stage["rounds"],
        "attempts": _attempts(check),
        "ok": False,
        "statusCode": 599,
        "latencyMs": _MILLISECONDS,
        "reason": _REASON,
        "final": True,
        "retryInSeconds": 0,
    }
    if check["kind"] == CheckKind.METRIC:
        result["value"] = _LONGEST_NUMBER
    return result


def _kib(size: int) -> str:
    return f"{math.ceil(size / 1024)} KiB"  # rounded up: a size just over the limit never reads as the limit
