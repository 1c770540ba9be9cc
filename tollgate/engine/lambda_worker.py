"""A function's own interpreter: imports its handler once (Lambda's init), then serves invocations one at a time.

Started by the local runtime (standard library only here) with the function's own environment, its CodeUri as
the working directory and first on sys.path, like Lambda's runtime. It runs in one of two ways:

- As a zygote (TOLLGATE_ZYGOTE_FD): after init it only forks, one worker per execution environment the runtime
  asks for, so a new concurrent invocation starts from an initialized copy in milliseconds instead of a new
  interpreter and a second import. The zygote runs no handler and no other thread, so a child holds no lock
  that another thread held at the fork. For each worker the runtime sends one end of a socketpair; the zygote
  answers with the child's pid and a pidfd, through which the runtime signals it without ever reaching a
  reused pid. Children are reaped by the kernel (SIGCHLD ignored here, restored in each child).
- As a worker itself (TOLLGATE_WORKER_FD), where the runtime cannot fork one: not on Linux, or when init left
  threads running.

A worker's requests and replies are JSON messages on its socket (multiprocessing.connection framing).
"""

import gc
import importlib
import io
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

# How a zygote answers a request for a worker: the pid, as 8 signed bytes, with the child's pidfd beside it.
PID_BYTES = 8
WORKER_REQUEST = b"w"


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


def _init() -> tuple[Any, dict[str, Any]]:
    """The handler, and what init answers the runtime: ready, or the error every invocation then gets."""
    try:
        return _load_handler(), {"ready": True}
    except Exception as error:  # noqa: BLE001 - a failed init answers every invocation, as on Lambda
        return None, {"error": _error(error, "Runtime.ImportModuleError")}


def serve(connection: Connection, handler: Any) -> None:
    """Invocations one at a time, until the runtime closes the socket."""
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


def _can_fork() -> bool:
    """Fork is safe with no other thread alive, and the runtime needs pidfds (Linux 5.3) to signal the children."""
    if threading.active_count() > 1 or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def _run_forked_worker(control: socket.socket, worker_fd: int, handler: Any) -> None:
    """The child's whole life: it never returns into the zygote's loop."""
    code = 0
    try:
        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler's own subprocesses are its to wait for
        serve(Connection(worker_fd), handler)
    except SystemExit as exit_request:  # a handler's sys.exit ends its worker, as it ends a process of its own
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever ends the worker, it must not go on as a second zygote
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fork_worker(control: socket.socket, worker_fd: int, handler: Any) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _run_forked_worker(control, worker_fd, handler)
    os.close(worker_fd)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # the child is already gone: the runtime sees no worker
        control.sendall((0).to_bytes(PID_BYTES, "big", signed=True))
        return
    try:
        socket.send_fds(control, [pid.to_bytes(PID_BYTES, "big", signed=True)], [pidfd])
    finally:
        os.close(pidfd)


def serve_as_zygote(control: socket.socket) -> None:
    handler, answer = _init()
    forkable = handler is not None and _can_fork()
    Connection(os.dup(control.fileno())).send_bytes(json.dumps({**answer, "forkable": forkable}).encode())
    if not forkable:
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.freeze()  # what init allocated stays out of the children's collections: their pages stay shared
    while True:
        request, fds, _flags, _address = socket.recv_fds(control, len(WORKER_REQUEST), 1)
        if request != WORKER_REQUEST or len(fds) != 1:  # the runtime closed its end: no more workers
            return
        _fork_worker(control, fds[0], handler)


def serve_as_worker(connection: Connection) -> None:
    handler, answer = _init()
    connection.send_bytes(json.dumps(answer).encode())
    if handler is not None:
        serve(connection, handler)


def main() -> None:
    # Every worker appends to one log: a line written in one piece never interleaves with another worker's.
    # (Unbuffered, print writes a line and its newline separately, and two workers' lines can run together.)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=False)
    zygote_fd = os.environ.pop("TOLLGATE_ZYGOTE_FD", None)
    if zygote_fd is not None:
        serve_as_zygote(socket.socket(fileno=int(zygote_fd)))
    else:
        serve_as_worker(Connection(int(os.environ.pop("TOLLGATE_WORKER_FD"))))


if __name__ == "__main__":
    main()
