"""The local Lambda runtime: warm worker processes per function, concurrent invocations, timeouts.

Each function runs in processes of its own with its own environment, never in the caller's process, and errors
come back in Lambda's shape so the state machine's Retry and Catch match as on AWS. On Linux a function
configuration's init runs once, in its zygote (lambda_worker.py), and every execution environment is a worker
forked from it: forty concurrent invocations cost forty forks, not forty interpreters importing the handler.
Elsewhere each worker is an interpreter of its own that runs init itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from tollgate.engine.stack import REGION
from tollgate.engine.zygote import Zygote, ZygoteGone

if TYPE_CHECKING:
    from tollgate.engine.template import FunctionSpec

_WORKER_COMMAND = [sys.executable, "-u", str(Path(__file__).with_name("lambda_worker.py"))]
_INIT_TIMEOUT_SECONDS = 30.0
# Forked workers need SCM_RIGHTS and pidfds; the zygote itself checks that the kernel has pidfds.
_ZYGOTES = sys.platform == "linux"
# What a Lambda environment inherits from the machine: enough to run Python, nothing of the caller.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT", "PYTHONHASHSEED")


LATEST = "$LATEST"


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the payload is an error, as Lambda's header says
    executed_version: str = LATEST  # the version or alias asked for: locally each function has one version


class UnknownFunction(LookupError):
    pass


class ContradictoryQualifier(ValueError):
    """The function's name or ARN ends in one qualifier and the Qualifier parameter names another."""


@dataclass(frozen=True)
class FunctionReference:
    """What an Invoke names: a function, and maybe one of its versions or aliases."""

    name: str
    qualifier: str | None = None

    @classmethod
    def parse(cls, function: str, qualifier: str | None = None) -> FunctionReference:
        """From a name, a partial ARN (123456789012:function:name) or an ARN, each maybe ending in :qualifier."""
        name, _, derived = function.rsplit(":function:", 1)[-1].partition(":")
        if derived and qualifier and derived != qualifier:
            raise ContradictoryQualifier(
                f"The derived qualifier from the function name ({derived}) does not match the specified qualifier"
                f" ({qualifier})."
            )
        return cls(name, derived or qualifier or None)


class RuntimeStopped(RuntimeError):
    pass


class WorkerProcess(Protocol):
    """A worker's process, spawned (a Popen) or forked by a zygote (a ForkedProcess)."""

    pid: int

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...


class _Worker:
    """One execution environment: the socket to its process, which serves one invocation at a time."""

    def __init__(self, connection: Connection, process: WorkerProcess) -> None:
        self.connection = connection
        self.process = process

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
        return self.process.poll() is None

    def stop(self) -> None:
        self.connection.close()
        self.process.kill()
        self.process.wait()


InitError = dict[str, Any]  # Lambda's error document for an environment whose init failed


def _spawn_worker(spec: FunctionSpec, environment: dict[str, str], log: IO[bytes]) -> _Worker | InitError:
    """A worker in an interpreter of its own that runs init itself: where no zygote can fork one."""
    parent, child = socket.socketpair()
    connection = Connection(os.dup(parent.fileno()))
    process = subprocess.Popen(
        _WORKER_COMMAND,
        env={**environment, "TOLLGATE_WORKER_FD": str(child.fileno())},
        cwd=spec.code_dir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        pass_fds=(child.fileno(),),
    )
    parent.close()
    child.close()
    worker = _Worker(connection, process)
    init_error = _spawned_init_error(connection)
    if init_error is not None:
        worker.stop()
        return init_error
    return worker


def _spawned_init_error(connection: Connection) -> InitError | None:
    if not connection.poll(_INIT_TIMEOUT_SECONDS):
        return {"errorType": "Runtime.InitTimeout", "errorMessage": "function init timed out"}
    try:
        ready: dict[str, Any] = json.loads(connection.recv_bytes())
    except (EOFError, OSError):
        return {"errorType": "Runtime.ExitError", "errorMessage": "function exited during init"}
    return ready.get("error")


class _FunctionPool:
    """Warm workers of one function configuration; a new one starts whenever all are busy, as Lambda scales out.

    New workers are forked from the configuration's zygote, which ran init once; concurrent invocations that
    find no zygote wait for the same init. An init that failed answers the invocations that waited for it, and
    the next invocation runs init again in a new zygote, as Lambda does in a new execution environment.
    """

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: IO[bytes]) -> None:
        self.spec = spec
        self.environment = environment
        self.log = log
        self.idle: list[_Worker] = []
        self.all: list[_Worker] = []
        self.lock = threading.Lock()
        self.stopped = False
        self._forks = _ZYGOTES
        self._zygote: Zygote | None = None
        self._invoked = False

    def keep_one_warm(self) -> None:
        """Run init now and keep one worker ready, as provisioned concurrency does."""
        try:
            self._warm_up()
        except RuntimeStopped:
            return

    def _warm_up(self) -> None:
        if self._forks:  # an invocation that comes meanwhile waits for this same init
            self._current_zygote().init(_INIT_TIMEOUT_SECONDS)
        with self.lock:
            if self._invoked:  # one came: the worker it made is the warm one
                return
        worker = self._new_worker()
        if isinstance(worker, _Worker):  # a failed init is left for the first invocation to run again and answer
            self._release(worker)

    def invoke(self, payload: bytes, qualifier: str | None = None) -> Invocation:
        worker = self._acquire()
        if not isinstance(worker, _Worker):
            return _error_invocation(worker)
        request = {
            "payload": payload.decode("utf-8") or "{}",
            "requestId": str(uuid.uuid4()),
            # The context's invoked_function_arn is the ARN as invoked: qualified when a version or alias was asked for.
            "functionArn": self.spec.arn if qualifier is None else f"{self.spec.arn}:{qualifier}",
            "timeoutSeconds": self.spec.timeout_seconds,
        }
        reply = worker.invoke(request, self.spec.timeout_seconds)
        if worker.alive:
            self._release(worker)
        else:
            self._discard(worker)
        if "error" in reply:
            return _error_invocation(reply["error"])
        return Invocation(reply["payload"].encode("utf-8"))

    def _acquire(self) -> _Worker | InitError:
        with self.lock:
            self._invoked = True
            if self.idle:
                return self.idle.pop()
        return self._new_worker()

    def _release(self, worker: _Worker) -> None:
        with self.lock:
            if not self.stopped:
                self.idle.append(worker)
                return
        worker.stop()

    def _new_worker(self) -> _Worker | InitError:
        worker = self._fork() if self._forks else _spawn_worker(self.spec, self.environment, self.log)
        if not isinstance(worker, _Worker):
            return worker
        with self.lock:
            if not self.stopped:
                self.all.append(worker)
                return worker
        worker.stop()  # the pool stopped while this worker started: it must not outlive it
        raise RuntimeStopped(f"{self.spec.name} was stopped or reconfigured")

    def _fork(self) -> _Worker | InitError:
        zygote = self._current_zygote()
        init = zygote.init(_INIT_TIMEOUT_SECONDS)
        if "error" in init:
            self._retire(zygote)
            if self.stopped:  # init ended because the pool killed the zygote
                raise RuntimeStopped(f"{self.spec.name} was stopped or reconfigured")
            return dict(init["error"])
        if not init["forkable"]:  # init left threads running, or this kernel has no pidfds: no forking here
            self._forks = False
            self._retire(zygote)
            return _spawn_worker(self.spec, self.environment, self.log)
        try:
            return _Worker(*zygote.fork())
        except ZygoteGone:
            self._retire(zygote)
            if self.stopped:
                raise RuntimeStopped(f"{self.spec.name} was stopped or reconfigured") from None
            return {"errorType": "Runtime.ExitError", "errorMessage": "function process exited"}

    def _current_zygote(self) -> Zygote:
        with self.lock:
            if self.stopped:
                raise RuntimeStopped(f"{self.spec.name} was stopped or reconfigured")
            if self._zygote is None:
                self._zygote = Zygote(_WORKER_COMMAND, self.environment, self.spec.code_dir, self.log)
            return self._zygote

    def _retire(self, zygote: Zygote) -> None:
        with self.lock:
            if self._zygote is zygote:
                self._zygote = None
        zygote.stop()

    def _discard(self, worker: _Worker) -> None:
        worker.stop()
        with self.lock:
            if worker in self.all:
                self.all.remove(worker)

    def processes(self) -> list[WorkerProcess]:
        with self.lock:
            zygote = [self._zygote.process] if self._zygote else []
            return zygote + [worker.process for worker in self.all]

    def stop(self) -> None:
        """Workers first, while their zygote still reaps them; then the zygote."""
        with self.lock:
            self.stopped = True
            workers, self.all, self.idle = self.all, [], []
            zygote, self._zygote = self._zygote, None
        for worker in workers:
            worker.stop()
        if zygote:
            zygote.stop()


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
        self._warming: list[threading.Thread] = []

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
            # Bytecode is cached as Python caches it: a function's modules compile once per machine, not at every
            # init (Lambda's read-only /var/task keeps none either way; a function cannot tell the difference).
            **spec.environment,
        }

    def update_configuration(
        self,
        name: str,
        variables: dict[str, str] | None = None,
        timeout_seconds: float | None = None,
        warm: bool = True,
    ) -> None:
        """New variables or timeout for a function; its warm workers are replaced, as after an update on AWS.

        The new configuration's init starts at once (unless `warm` is off): a function is reconfigured to be invoked.
        """
        old = self._pools[name]
        spec = old.spec if timeout_seconds is None else replace(old.spec, timeout_seconds=timeout_seconds)
        environment = {**old.environment, **(variables or {})}
        if (spec, environment) == (old.spec, old.environment):
            return  # nothing changed: its warm workers (and its zygote's init) serve the new configuration as well
        self._pools[name] = _FunctionPool(spec, environment, old.log)
        old.stop()
        if warm:
            self.prewarm([name])

    def prewarm(self, names: Iterable[str]) -> None:
        """Init these functions now and keep one worker of each ready: in the background, one after another, so
        that they leave a core to whatever else is starting."""
        if self._stopped:
            return
        pools = [self._pools[name] for name in names]
        thread = threading.Thread(target=_keep_warm, args=(pools,), name="tollgate-prewarm", daemon=True)
        self._warming = [warming for warming in self._warming if warming.is_alive()] + [thread]
        thread.start()

    def restore_configuration(self) -> None:
        """Every function back to its configuration in template.yaml."""
        for name, (spec, environment) in self._originals.items():
            pool = self._pools[name]
            if pool.spec != spec or pool.environment != environment:
                self._pools[name] = _FunctionPool(spec, environment, pool.log)
                pool.stop()

    def invoke(self, function: str, payload: bytes, qualifier: str | None = None) -> Invocation:
        """Invoke a function by name or ARN; any version or alias of a function runs its one local version."""
        if self._stopped:
            raise RuntimeStopped("the local Lambda runtime has stopped")
        reference = FunctionReference.parse(function, qualifier)
        pool = self._pools.get(reference.name)
        if pool is None:
            raise UnknownFunction(reference.name)
        invocation = pool.invoke(payload, reference.qualifier)
        return replace(invocation, executed_version=reference.qualifier or LATEST)

    def processes(self) -> list[WorkerProcess]:
        """Every process now running for a function: zygotes, and workers warm or busy."""
        return [process for pool in list(self._pools.values()) for process in pool.processes()]

    def stop(self) -> None:
        self._stopped = True
        for pool in self._pools.values():
            pool.stop()
        for thread in self._warming:  # each ends once its pool stopped
            thread.join()


def _keep_warm(pools: list[_FunctionPool]) -> None:
    for pool in pools:
        pool.keep_one_warm()
