"""The local Lambda runtime: warm worker processes per function, concurrent invocations, timeouts.

Each function runs in its own interpreter with its own environment, never in the caller's process,
and errors come back in Lambda's shape so the state machine's Retry and Catch match as on AWS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from tollgate.engine.stack import REGION
from tollgate.engine.template import FunctionSpec

_WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
_INIT_TIMEOUT_SECONDS = 30.0
# What a Lambda environment inherits from the machine: enough to run Python, nothing of the caller.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT", "PYTHONHASHSEED")


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the payload is an error, as Lambda's header says


class UnknownFunction(LookupError):
    pass


class RuntimeStopped(RuntimeError):
    pass


class _Worker:
    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: IO[bytes]) -> None:
        parent, child = socket.socketpair()
        self.connection = Connection(os.dup(parent.fileno()))
        env = {**environment, "TOLLGATE_WORKER_FD": str(child.fileno())}
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(_WORKER_SCRIPT)],
            env=env,
            cwd=spec.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(child.fileno(),),
        )
        parent.close()
        child.close()
        self.init_error: dict[str, Any] | None = None
        if not self.connection.poll(_INIT_TIMEOUT_SECONDS):
            self.init_error = {"errorType": "Runtime.InitTimeout", "errorMessage": "function init timed out"}
            return
        try:
            ready = json.loads(self.connection.recv_bytes())
        except EOFError:
            ready = {"error": {"errorType": "Runtime.ExitError", "errorMessage": "function exited during init"}}
        self.init_error = ready.get("error")

    def invoke(self, request: dict[str, Any], timeout_seconds: float) -> dict[str, Any]:
        try:
            self.connection.send_bytes(json.dumps(request).encode())
            if not self.connection.poll(timeout_seconds):
                self.stop()
                return {
                    "error": {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {timeout_seconds:.2f} seconds",
                    }
                }
            reply: dict[str, Any] = json.loads(self.connection.recv_bytes())
        except (EOFError, OSError):  # the process died, or the runtime stopped it
            self.stop()
            return {"error": {"errorType": "Runtime.ExitError", "errorMessage": "function process exited"}}
        return reply

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.init_error is None

    def stop(self) -> None:
        self.connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _FunctionPool:
    """Warm workers of one function; a new one starts whenever all are busy, as Lambda scales out."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: IO[bytes]) -> None:
        self.spec = spec
        self.environment = environment
        self.log = log
        self.idle: list[_Worker] = []
        self.all: list[_Worker] = []
        self.lock = threading.Lock()
        self.stopped = False

    def invoke(self, payload: bytes) -> Invocation:
        worker = self._acquire()
        if worker.init_error:
            self._discard(worker)
            return _error_invocation(worker.init_error)
        request = {
            "payload": payload.decode("utf-8") or "{}",
            "requestId": str(uuid.uuid4()),
            "functionArn": self.spec.arn,
            "timeoutSeconds": self.spec.timeout_seconds,
        }
        reply = worker.invoke(request, self.spec.timeout_seconds)
        if worker.alive:
            with self.lock:
                self.idle.append(worker)
        else:
            self._discard(worker)
        if "error" in reply:
            return _error_invocation(reply["error"])
        return Invocation(reply["payload"].encode("utf-8"))

    def _acquire(self) -> _Worker:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        worker = _Worker(self.spec, self.environment, self.log)
        with self.lock:
            if not self.stopped:
                self.all.append(worker)
                return worker
        worker.stop()  # the pool stopped while this worker started: it must not outlive it
        raise RuntimeStopped(f"{self.spec.name} was stopped or reconfigured")

    def _discard(self, worker: _Worker) -> None:
        worker.stop()
        with self.lock:
            if worker in self.all:
                self.all.remove(worker)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            workers, self.all, self.idle = self.all, [], []
        for worker in workers:
            worker.stop()


def _error_invocation(error: dict[str, Any]) -> Invocation:
    return Invocation(json.dumps(error).encode("utf-8"), function_error="Unhandled")


class LambdaRuntime:
    """Runs the template's functions locally, reachable by name or ARN."""

    def __init__(self, functions: dict[str, FunctionSpec], endpoint_url: str, log: IO[bytes]) -> None:
        self._pools = {
            spec.name: _FunctionPool(spec, self._environment(spec, endpoint_url), log) for spec in functions.values()
        }
        self._originals = {name: (pool.spec, pool.environment) for name, pool in self._pools.items()}
        self._stopped = False

    @staticmethod
    def _environment(spec: FunctionSpec, endpoint_url: str) -> dict[str, str]:
        inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        return {
            **inherited,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_seconds)),
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "PYTHONDONTWRITEBYTECODE": "1",
            **spec.environment,
        }

    def update_configuration(
        self, name: str, variables: dict[str, str] | None = None, timeout_seconds: float | None = None
    ) -> None:
        """New variables or timeout for a function; its warm workers are replaced, as after an update on AWS."""
        old = self._pools[name]
        spec = old.spec if timeout_seconds is None else replace(old.spec, timeout_seconds=timeout_seconds)
        self._pools[name] = _FunctionPool(spec, {**old.environment, **(variables or {})}, old.log)
        old.stop()

    def restore_configuration(self) -> None:
        """Every function back to its configuration in template.yaml."""
        for name, (spec, environment) in self._originals.items():
            pool = self._pools[name]
            if pool.spec != spec or pool.environment != environment:
                self._pools[name] = _FunctionPool(spec, environment, pool.log)
                pool.stop()

    def invoke(self, function: str, payload: bytes) -> Invocation:
        if self._stopped:
            raise RuntimeStopped("the local Lambda runtime has stopped")
        name = function.rsplit(":function:", 1)[-1].split(":", 1)[0]
        pool = self._pools.get(name)
        if pool is None:
            raise UnknownFunction(name)
        return pool.invoke(payload)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """Every worker process now running, warm or busy."""
        return [worker.process for pool in list(self._pools.values()) for worker in list(pool.all)]

    def stop(self) -> None:
        self._stopped = True
        for pool in self._pools.values():
            pool.stop()
