"""The embedded engine: the app in template.yaml, and any templates of the user's own, running on this machine,
no AWS, no Docker."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from tollgate.engine.cloudformation import LocalCloudFormation, app_stack
from tollgate.engine.codedeploy import LocalCodeDeploy
from tollgate.engine.edge import Edge
from tollgate.engine.elbv2 import LocalLoadBalancers
from tollgate.engine.lambda_runtime import Invocation, LambdaRuntime, WorkerProcess
from tollgate.engine.launch import EDGE_PORT_VARIABLE, EngineLaunch, new_log_path
from tollgate.engine.moto_server import MotoServer, start_moto_server
from tollgate.engine.safety_net import SafetyNet
from tollgate.engine.stack import REGION, TemplateError
from tollgate.engine.template import AppTemplate, FunctionSpec, ServiceTemplate, load_app, load_service

APP_DIR = Path(__file__).resolve().parents[2]
_LOCAL_ROLE = "arn:aws:iam::123456789012:role/tollgate-local-state-machine"


class EngineError(RuntimeError):
    """The engine cannot run: the message says what to fix."""


def _load_app(template_path: Path) -> AppTemplate:
    try:
        return load_app(template_path)
    except TemplateError as error:
        raise EngineError(f"{template_path}: {error}") from None


def _load_service(template_path: Path) -> ServiceTemplate:
    try:
        return load_service(template_path)
    except (TemplateError, OSError) as error:
        raise EngineError(f"{template_path}: {error}") from None


def _all_functions(app: AppTemplate, app_path: Path, services: Sequence[ServiceTemplate]) -> dict[str, FunctionSpec]:
    """Tollgate's functions and the services', by name: two functions of one name would be one function on AWS."""
    functions = dict(app.functions)
    defined_in = dict.fromkeys(app.functions, app_path)
    for service in services:
        for name, spec in service.functions.items():
            if name in functions:
                raise EngineError(
                    f"{service.path}: function {spec.logical_id} is named {name}, as is {functions[name].logical_id}"
                    f" in {defined_in[name]}: give one of them another FunctionName"
                )
            functions[name] = spec
            defined_in[name] = service.path
    return functions


def _strings(document: Any) -> Iterator[str]:
    """Every string value in a JSON document."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)


class LocalEngine:
    """Start with `with LocalEngine() as engine:`; everything binds to 127.0.0.1 and stops on exit."""

    def __init__(
        self,
        app_dir: Path = APP_DIR,
        log_path: Path | None = None,
        sfn_endpoint: str | None = None,
        app_templates: Sequence[Path] = (),
        launch: EngineLaunch | None = None,
    ) -> None:
        """`app_templates`: the user's own SAM templates, whose functions run beside Tollgate's under their names.

        `launch`: moto and the edge's socket, started before this process imported the engine; the engine takes
        them over, and writes to their log.
        """
        if launch and log_path:
            raise ValueError("an engine with a launch writes to the launch's log: give log_path to the launch")
        self.app: AppTemplate = _load_app(app_dir / "template.yaml")
        self.services = tuple(_load_service(path) for path in app_templates)
        self.functions = _all_functions(self.app, app_dir / "template.yaml", self.services)
        self.state_machine = self.app.state_machine
        self._launch = launch
        self.log_path = launch.log_path if launch else log_path or new_log_path()
        self.sfn_endpoint = sfn_endpoint
        self.codedeploy = LocalCodeDeploy()
        self.load_balancers = LocalLoadBalancers()
        self.startup_seconds = 0.0
        self._log: IO[bytes] | None = None
        self._moto: MotoServer | None = None
        self._safety_net: SafetyNet | None = None
        self._first_invoked: dict[str, tuple[dict[str, str] | None, float | None]] = {}
        self._left_cold: set[str] = set()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.runtime: LambdaRuntime  # both exist once start() has begun
        self.edge: Edge

    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()  # whatever did start is stopped: no process or port outlives a failed start
            raise
        self.startup_seconds = time.perf_counter() - started

    def _start(self) -> None:
        """moto first, as it takes longest; the edge, a client and the functions' inits meanwhile."""
        launch = self._launch
        self._log = launch.log if launch else self.log_path.open("ab")
        edge_port = int(os.environ.get(EDGE_PORT_VARIABLE) or 0)
        log = self._log
        self.edge = Edge(
            lambda url: LambdaRuntime(self.functions, url, log),
            self.codedeploy,
            LocalCloudFormation(app_stack(self.app)),
            self.sfn_endpoint,
            edge_port,
            self.load_balancers,
            listening=launch.edge_socket if launch else None,
        )
        self.runtime = self.edge.runtime
        # CloudWatch, Secrets Manager and SSM, even when Step Functions is external; it calls Lambda at the edge's port.
        self._moto = launch.moto if launch else MotoServer(lambda_endpoint_port=self.edge.port, log=log)
        self.edge.start()
        # While moto imports on one core, the functions init on the other, one after another: those about to be
        # invoked first, then those the state machine invokes.
        for name, (environment, timeout_seconds) in self._first_invoked.items():
            self.runtime.update_configuration(name, environment, timeout_seconds, warm=False)
        workflow = [name for name in self._workflow_functions() if name not in self._left_cold]
        self.runtime.prewarm(dict.fromkeys([*self._first_invoked, *workflow]))
        stepfunctions = self.client("stepfunctions")
        self._moto = start_moto_server(self.edge.port, log, launched=self._moto)
        self.edge.moto_url = self._moto.url
        self._create_state_machine(stepfunctions)
        reporter = next((spec for spec in self.app.functions.values() if spec.execution_ended_statuses), None)
        if reporter:
            self._safety_net = SafetyNet(stepfunctions, self.state_machine.arn, reporter, self.runtime)
            self._safety_net.start()

    def _workflow_functions(self) -> list[str]:
        """The functions the state machine invokes (checks, tally, report), as the template configures them."""
        invoked = set(_strings(json.loads(self.state_machine.definition)))
        return [spec.name for spec in self.app.functions.values() if {spec.arn, spec.name} & invoked]

    def _create_state_machine(self, sfn: Any) -> None:
        try:
            arn = sfn.create_state_machine(
                name=self.state_machine.name,
                definition=self.state_machine.definition,
                roleArn=_LOCAL_ROLE,
                type="STANDARD",
            )["stateMachineArn"]
        except (BotoCoreError, ClientError) as error:
            raise EngineError(f"cannot create the state machine at {self.sfn_endpoint or 'moto'}: {error}") from None
        if arn != self.state_machine.arn:
            raise RuntimeError(f"state machine ARN {arn} differs from the template's {self.state_machine.arn}")

    def stop(self) -> None:
        """Stop what calls functions first, then the functions, then the edge that connects them."""
        if self._safety_net:
            self._safety_net.stop()
        if self._moto:
            self._moto.stop()
        if hasattr(self, "runtime"):
            self.runtime.stop()
        if hasattr(self, "edge"):
            self.edge.stop()
        if self._log:
            self._log.close()
        if self._launch:  # what it launched, even if this engine never started
            self._launch.stop()

    def client(self, service: str) -> Any:
        """The engine's client of a service at its edge: one per service, shared (boto3 clients are thread-safe,
        and each costs 20-60 ms to make)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        import boto3  # here, not at the top: a command that starts no engine does not pay for it
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.edge.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the local edge accepts any credentials
            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=120),
        )

    def configure_function(
        self, name: str, environment: dict[str, str] | None = None, timeout_seconds: float | None = None
    ) -> None:
        """Like UpdateFunctionConfiguration: later invocations see the new variables or timeout.

        Before start, the function starts with this configuration and is invoked first (see expect_invocation).
        """
        if not hasattr(self, "runtime"):
            self._known(name)
            earlier_environment, earlier_timeout = self._first_invoked.get(name, (None, None))
            merged = {**(earlier_environment or {}), **(environment or {})}
            self._first_invoked[name] = (merged, earlier_timeout if timeout_seconds is None else timeout_seconds)
            return
        self.runtime.update_configuration(name, environment, timeout_seconds)

    def expect_invocation(self, name: str) -> None:
        """Before start: this function is the first to be invoked, so its init runs first, while moto starts."""
        self._known(name)
        self._first_invoked.setdefault(name, (None, None))

    def leave_cold(self, name: str) -> None:
        """Before start: this run does not invoke this function of the workflow's (a suite without metric checks
        never reads a metric), so its init is not run ahead, where it would take a core from what the run needs."""
        self._known(name)
        self._left_cold.add(name)

    def _known(self, name: str) -> None:
        if name not in self.functions:
            raise EngineError(f"no function is named {name}")

    def processes(self) -> list[WorkerProcess]:
        """The engine's processes: moto, and every zygote and worker of the Lambda runtime."""
        return ([self._moto.process] if self._moto else []) + self.runtime.processes()

    def invoke(self, name: str, event: dict[str, Any], qualifier: str | None = None) -> Invocation:
        return self.runtime.invoke(name, json.dumps(event).encode("utf-8"), qualifier)
