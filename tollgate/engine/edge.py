"""The local AWS edge: one loopback endpoint that every client in the engine uses.

Lambda's Invoke API goes to the local runtime, CodeDeploy's hook status to the local CodeDeploy, Step
Functions to sfn_url (an external Step Functions API such as Step Functions Local, or else the engine's own
moto), and everything else (CloudWatch, Secrets Manager, SSM) to the engine's own moto at moto_url.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import requests

from tollgate.engine.codedeploy import CodeDeployError, LocalCodeDeploy
from tollgate.engine.lambda_runtime import LambdaRuntime, RuntimeStopped, UnknownFunction
from tollgate.loopback import LoopbackServer

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations")
_CODEDEPLOY_TARGET = "CodeDeploy_20141006."
_STEP_FUNCTIONS_TARGET = "AWSStepFunctions."
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "server", "date"}


class Edge:
    """The functions are reached through the edge and reach AWS through it: the runtime is made for its URL."""

    def __init__(
        self,
        runtime_for: Callable[[str], LambdaRuntime],
        codedeploy: LocalCodeDeploy,
        sfn_endpoint: str | None = None,
        port: int = 0,
    ) -> None:
        self.codedeploy = codedeploy
        self.sfn_endpoint = sfn_endpoint
        self.moto_url = ""  # the engine's own moto is started after the edge, aimed at its port
        self._local = threading.local()
        self._server = LoopbackServer(_handler_for(self), "tollgate-edge", port)
        self.url = self._server.url
        self.port = self._server.port
        self.runtime = runtime_for(self.url)
        self._background: list[threading.Thread] = []

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        for thread in self._background:
            thread.join(timeout=5)

    @property
    def sfn_url(self) -> str:
        return self.sfn_endpoint or self.moto_url

    def upstream_url(self, target: str) -> str:
        """Where a request that is neither Lambda nor CodeDeploy goes, by its X-Amz-Target header."""
        return self.sfn_url if target.startswith(_STEP_FUNCTIONS_TARGET) else self.moto_url

    def upstream_session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def invoke_async(self, function: str, payload: bytes) -> None:
        thread = threading.Thread(target=self._invoke_quietly, args=(function, payload), daemon=True)
        self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def _invoke_quietly(self, function: str, payload: bytes) -> None:
        """An Event invocation: its result goes nowhere, as on Lambda."""
        try:
            self.runtime.invoke(function, payload)
        except (UnknownFunction, RuntimeStopped):
            return


def _handler_for(edge: Edge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:
            self._forward()

        def do_DELETE(self) -> None:
            self._forward()

        def do_PUT(self) -> None:
            self._forward()

        def do_POST(self) -> None:
            invoke = _INVOKE_PATH.match(self.path)
            if invoke:
                self._invoke(unquote(invoke.group("name")))
            elif self.headers.get("X-Amz-Target", "").startswith(_CODEDEPLOY_TARGET):
                self._codedeploy(self.headers["X-Amz-Target"][len(_CODEDEPLOY_TARGET) :])
            else:
                self._forward()

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _invoke(self, function: str) -> None:
            payload = self._body()
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                edge.invoke_async(function, payload)
                self._reply(202, b"")
                return
            try:
                invocation = edge.runtime.invoke(function, payload)
            except UnknownFunction as error:
                body = json.dumps({"Type": "User", "message": f"Function not found: {error}"}).encode()
                self._reply(
                    404, body, {"x-amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"}
                )
                return
            except RuntimeStopped as error:
                body = json.dumps({"Type": "Service", "message": str(error)}).encode()
                self._reply(503, body, {"x-amzn-ErrorType": "ServiceException", "Content-Type": "application/json"})
                return
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            if invocation.function_error:
                headers["X-Amz-Function-Error"] = invocation.function_error
            self._reply(200, invocation.payload, headers)

        def _codedeploy(self, operation: str) -> None:
            request = json.loads(self._body() or b"{}")
            headers = {"Content-Type": "application/x-amz-json-1.1"}
            if operation != "PutLifecycleEventHookExecutionStatus":
                body = {"__type": "UnknownOperationException", "message": f"{operation} is not served locally"}
                self._reply(400, json.dumps(body).encode(), headers)
                return
            try:
                hook_id = edge.codedeploy.put_lifecycle_event_hook_execution_status(
                    request.get("deploymentId", ""),
                    request.get("lifecycleEventHookExecutionId", ""),
                    request.get("status", ""),
                )
            except CodeDeployError as error:
                status = 500 if error.code in ("InternalFailure", "ServiceUnavailable") else 400
                self._reply(status, json.dumps({"__type": error.code, "message": error.message}).encode(), headers)
                return
            self._reply(200, json.dumps({"lifecycleEventHookExecutionId": hook_id}).encode(), headers)

        def _forward(self) -> None:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
            # `--sfn-endpoint http://host:port/` must not send every request to "//" (moto tolerates it; not all do).
            url = edge.upstream_url(self.headers.get("X-Amz-Target", "")).rstrip("/") + self.path
            response = edge.upstream_session().request(
                self.command, url, data=self._body(), headers=headers, timeout=60
            )
            reply_headers = {name: value for name, value in response.headers.items() if name.lower() not in _HOP_BY_HOP}
            self._reply(response.status_code, response.content, reply_headers)

    return Handler
