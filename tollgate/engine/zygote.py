"""The runtime's side of a zygote: one function's initialized interpreter, which forks a worker per environment.

The zygote's own side is lambda_worker.py. The runtime talks to it over a socketpair: it reads init's answer once,
then asks for each worker by sending one end of a new socketpair, and gets back the child's pid and a pidfd.
Workers are the zygote's children, not the runtime's, so the runtime holds each by its pidfd: kill and wait act
on that very process, never on a pid the kernel has handed out again.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from tollgate.engine.lambda_worker import PID_BYTES, WORKER_REQUEST

# What ForkedProcess.poll answers for a worker that exited by itself: only its parent, the zygote, could read the
# status, and the zygote leaves its children to the kernel.
EXIT_STATUS_UNKNOWN = -1
_FORK_REPLY_SECONDS = 30.0


class ForkedProcess:
    """A worker forked by a zygote, held by its pidfd; like a Popen, poll() is None while it runs."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = pidfd
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        return self._wait(0.0)

    def wait(self, timeout: float | None = None) -> int | None:
        return self._wait(timeout)

    def kill(self) -> None:
        with self._lock:
            if self._pidfd is None:
                return
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:  # it has already exited
                return
            self.returncode = -signal.SIGKILL

    def _wait(self, timeout: float | None) -> int | None:
        """The pidfd turns readable once the process has exited; then it is closed, and the answer kept."""
        with self._lock:
            if self._pidfd is None:
                return self.returncode
            if not _readable(self._pidfd, timeout):
                return None
            os.close(self._pidfd)
            self._pidfd = None
            if self.returncode is None:
                self.returncode = EXIT_STATUS_UNKNOWN
            return self.returncode


class ZygoteGone(RuntimeError):
    """The zygote exited or was stopped: it forks no more workers."""


class Zygote:
    """One configuration of one function, initialized once; `fork()` makes each new execution environment."""

    def __init__(self, command: list[str], environment: dict[str, str], cwd: Path, log: IO[bytes]) -> None:
        self._control, child = socket.socketpair()
        self.process = subprocess.Popen(
            command,
            env={**environment, "TOLLGATE_ZYGOTE_FD": str(child.fileno())},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(child.fileno(),),
        )
        child.close()
        self._lock = threading.Lock()
        self._init: dict[str, Any] | None = None

    def init(self, timeout_seconds: float) -> dict[str, Any]:
        """Init's answer, waited for once: {"ready": true, "forkable": ...} or {"error": {...}} in Lambda's shape."""
        with self._lock:
            if self._init is None:
                self._init = self._read_init(timeout_seconds)
            return self._init

    def _read_init(self, timeout_seconds: float) -> dict[str, Any]:
        connection = Connection(os.dup(self._control.fileno()))
        try:
            if not connection.poll(timeout_seconds):
                return {"error": {"errorType": "Runtime.InitTimeout", "errorMessage": "function init timed out"}}
            answer: dict[str, Any] = json.loads(connection.recv_bytes())
            return answer
        except (EOFError, OSError):
            return {"error": {"errorType": "Runtime.ExitError", "errorMessage": "function exited during init"}}
        finally:
            connection.close()

    def fork(self) -> tuple[Connection, ForkedProcess]:
        """A new worker and the socket to it; only once init answered forkable."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                pid, pidfd = self._request_worker(theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        connection = Connection(os.dup(ours.fileno()))
        ours.close()
        return connection, ForkedProcess(pid, pidfd)

    def _request_worker(self, theirs: socket.socket) -> tuple[int, int]:
        try:
            socket.send_fds(self._control, [WORKER_REQUEST], [theirs.fileno()])
            if not _readable(self._control.fileno(), _FORK_REPLY_SECONDS):
                raise ZygoteGone("the zygote did not answer")
            answer, fds, _flags, _address = socket.recv_fds(self._control, PID_BYTES, 1)
        except OSError as error:
            raise ZygoteGone(str(error)) from None
        pid = int.from_bytes(answer, "big", signed=True) if len(answer) == PID_BYTES else 0
        if pid <= 0 or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ZygoteGone("the zygote forked no worker")
        return pid, fds[0]

    def stop(self) -> None:
        """Killed, not asked: it holds no state worth a goodbye, and whoever waits on it sees its end at once."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._control.close()


def _readable(fd: int, timeout_seconds: float | None) -> bool:
    """poll(2), not select(2): a busy engine holds more file descriptors than select can watch."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout_seconds is None else timeout_seconds * 1000))
