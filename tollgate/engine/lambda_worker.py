"""A warm Lambda execution environment: imports one handler, then serves invocations one at a time.

Started by the local runtime as its own interpreter (standard library only here), with the
function's own environment and its CodeUri first on sys.path, like Lambda's runtime.
Requests and responses are JSON messages on the file descriptor named by TOLLGATE_WORKER_FD.
"""

import importlib
import json
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any


class _Context:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = request["functionArn"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self.aws_request_id = request["requestId"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + request["timeoutSeconds"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _load_handler() -> Any:
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), function_name)


def main() -> None:
    connection = Connection(int(os.environ.pop("TOLLGATE_WORKER_FD")))
    try:
        handler = _load_handler()
    except Exception as error:  # noqa: BLE001 - a failed init answers every invocation, as on Lambda
        connection.send_bytes(json.dumps({"error": _error(error, "Runtime.ImportModuleError")}).encode())
        return
    connection.send_bytes(b'{"ready": true}')
    while True:
        try:
            request = json.loads(connection.recv_bytes())
        except EOFError:
            return
        try:
            result = handler(json.loads(request["payload"]), _Context(request))
            reply: dict[str, Any] = {"payload": json.dumps(result)}
        except Exception as error:  # noqa: BLE001 - any handler error is the invocation's error, as on Lambda
            reply = {"error": _error(error)}
        sys.stdout.flush()
        connection.send_bytes(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
