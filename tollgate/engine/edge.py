"""The local AWS edge: one loopback endpoint that every client in the engine uses.

Lambda's Invoke API goes to the local runtime, CodeDeploy's GetDeployment and hook status to the local CodeDeploy,
CloudFormation's DescribeStacks to the local CloudFormation (the engine's own stack), ELB's DescribeListeners and
DescribeLoadBalancers to the local load balancers, Step Functions to sfn_url (an external Step Functions API such
as Step Functions Local, or else the engine's own moto), and everything else (CloudWatch, Secrets Manager, SSM,
S3) to the engine's own moto at moto_url. An execution history that the Step Functions API returns whole is
served a page at a time, as AWS serves it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote

import requests

from tollgate.engine.cloudformation import LocalCloudFormation
from tollgate.engine.codedeploy import CodeDeployError, LocalCodeDeploy
from tollgate.engine.elbv2 import LocalLoadBalancers
from tollgate.engine.lambda_runtime import ContradictoryQualifier, LambdaRuntime, RuntimeStopped, UnknownFunction
from tollgate.loopback import LoopbackServer

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_CODEDEPLOY_TARGET = "CodeDeploy_20141006."
_STEP_FUNCTIONS_TARGET = "AWSStepFunctions."
_EXECUTION_HISTORY_TARGET = _STEP_FUNCTIONS_TARGET + "GetExecutionHistory"
# The service a SigV4 request is signed for: CloudFormation's query protocol names it nowhere else.
_SIGNED_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
# Expect is the edge's to answer (100 Continue), not something to pass on to a server that already has the body.
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "server", "date", "expect"}
# GetExecutionHistory's page size: 100 unless maxResults asks for another, at most 1000.
_HISTORY_PAGE_DEFAULT, _HISTORY_PAGE_MAX = 100, 1000
_EDGE_PAGE_MARK = "tollgate-edge:"  # how the nextTokens the edge makes begin


class Edge:
    """The functions are reached through the edge and reach AWS through it: the runtime is made for its URL."""

    def __init__(
        self,
        runtime_for: Callable[[str], LambdaRuntime],
        codedeploy: LocalCodeDeploy,
        cloudformation: LocalCloudFormation,
        sfn_endpoint: str | None = None,
        port: int = 0,
        load_balancers: LocalLoadBalancers | None = None,
        listening: socket.socket | None = None,
    ) -> None:
        self.codedeploy = codedeploy
        self.cloudformation = cloudformation
        self.load_balancers = load_balancers or LocalLoadBalancers()
        self.history_pages = HistoryPages()
        self.sfn_endpoint = sfn_endpoint
        self.moto_url = ""  # the engine's own moto is started after the edge, aimed at its port
        self._local = threading.local()
        self._server = LoopbackServer(_handler_for(self), "tollgate-edge", port, listening=listening)
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

    def invoke_async(self, function: str, payload: bytes, qualifier: str | None) -> None:
        thread = threading.Thread(target=self._invoke_quietly, args=(function, payload, qualifier), daemon=True)
        self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def _invoke_quietly(self, function: str, payload: bytes, qualifier: str | None) -> None:
        """An Event invocation: its result goes nowhere, as on Lambda."""
        try:
            self.runtime.invoke(function, payload, qualifier)
        except (UnknownFunction, RuntimeStopped, ContradictoryQualifier):
            return


class HistoryPages:
    """Pages of execution histories that the Step Functions API behind the edge returned whole (moto does).

    A client pages through GetExecutionHistory as on AWS; the whole history is kept from its first page until its
    last, so a listing reads the engine once. A listing no longer kept (a few are) is read again.
    """

    def __init__(self, listings_kept: int = 4) -> None:
        self._listings_kept = listings_kept
        self._listings: OrderedDict[str, list[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, events: list[Any], page_size: int) -> dict[str, Any]:
        listing = uuid.uuid4().hex
        with self._lock:
            self._listings[listing] = events
            while len(self._listings) > self._listings_kept:
                self._listings.popitem(last=False)
        return _page(listing, events, 0, page_size)

    def kept(self, token: str) -> tuple[str, int, list[Any] | None] | None:
        """The listing a token continues, the offset it continues at, and the listing's events if still kept.

        None for a token the edge never made.
        """
        listing, _, offset = token.removeprefix(_EDGE_PAGE_MARK).partition(":")
        if not offset.isdigit():
            return None
        with self._lock:
            return listing, int(offset), self._listings.get(listing)

    def next(self, listing: str, events: list[Any], offset: int, page_size: int) -> dict[str, Any]:
        page = _page(listing, events, offset, page_size)
        with self._lock:
            if "nextToken" in page:
                self._listings[listing] = events
                self._listings.move_to_end(listing)
            else:  # the listing's last page: nothing will continue it
                self._listings.pop(listing, None)
        return page


def _page(listing: str, events: list[Any], offset: int, page_size: int) -> dict[str, Any]:
    end = offset + page_size
    page: dict[str, Any] = {"events": events[offset:end]}
    if end < len(events):
        page["nextToken"] = f"{_EDGE_PAGE_MARK}{listing}:{end}"
    return page


def _page_size(max_results: Any) -> int:
    if not isinstance(max_results, int) or max_results <= 0:
        return _HISTORY_PAGE_DEFAULT
    return min(max_results, _HISTORY_PAGE_MAX)


def _qualifier(query: str) -> str | None:
    """Invoke's Qualifier parameter, from the request's query string."""
    values = parse_qs(query).get("Qualifier")
    return values[0] if values else None


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

        def do_HEAD(self) -> None:
            self._relay(self._upstream(self._body()), head=True)

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            invoke = _INVOKE_PATH.match(path)
            if invoke:
                self._invoke(unquote(invoke.group("name")), _qualifier(query))
            elif self.headers.get("X-Amz-Target", "").startswith(_CODEDEPLOY_TARGET):
                self._codedeploy(self.headers["X-Amz-Target"][len(_CODEDEPLOY_TARGET) :])
            elif self.headers.get("X-Amz-Target") == _EXECUTION_HISTORY_TARGET:
                self._execution_history()
            elif self._signed_service() == "cloudformation":
                self._cloudformation()
            elif self._signed_service() == "elasticloadbalancing":
                self._load_balancers()
            else:
                self._forward()

        def _signed_service(self) -> str | None:
            signed = _SIGNED_SERVICE.search(self.headers.get("Authorization", ""))
            return signed.group("service") if signed else None

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _invoke(self, function: str, qualifier: str | None) -> None:
            payload = self._body()
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                edge.invoke_async(function, payload, qualifier)
                self._reply(202, b"")
                return
            try:
                invocation = edge.runtime.invoke(function, payload, qualifier)
            except UnknownFunction as error:
                self._lambda_error(404, "ResourceNotFoundException", "User", f"Function not found: {error}")
                return
            except ContradictoryQualifier as error:
                self._lambda_error(400, "InvalidParameterValueException", "User", str(error))
                return
            except RuntimeStopped as error:
                self._lambda_error(503, "ServiceException", "Service", str(error))
                return
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": invocation.executed_version}
            if invocation.function_error:
                headers["X-Amz-Function-Error"] = invocation.function_error
            self._reply(200, invocation.payload, headers)

        def _lambda_error(self, status: int, code: str, fault: str, message: str) -> None:
            body = json.dumps({"Type": fault, "message": message}).encode()
            self._reply(status, body, {"x-amzn-ErrorType": code, "Content-Type": "application/json"})

        def _codedeploy(self, operation: str) -> None:
            request = json.loads(self._body() or b"{}")
            headers = {"Content-Type": "application/x-amz-json-1.1"}
            try:
                answer = edge.codedeploy.answer(operation, request)
            except CodeDeployError as error:
                status = 500 if error.code in ("InternalFailure", "ServiceUnavailable") else 400
                self._reply(status, json.dumps({"__type": error.code, "message": error.message}).encode(), headers)
                return
            self._reply(200, json.dumps(answer).encode(), headers)

        def _cloudformation(self) -> None:
            form = dict(parse_qsl(self._body().decode("utf-8")))
            status, body = edge.cloudformation.answer(form)
            self._reply(status, body, {"Content-Type": "text/xml"})

        def _load_balancers(self) -> None:
            form = dict(parse_qsl(self._body().decode("utf-8")))
            status, body = edge.load_balancers.answer(form)
            self._reply(status, body, {"Content-Type": "text/xml"})

        def _execution_history(self) -> None:
            """The history a page at a time: the upstream's own pages when it pages, else the edge's."""
            body = self._body()
            request = json.loads(body or b"{}")
            token = request.get("nextToken")
            if isinstance(token, str) and token.startswith(_EDGE_PAGE_MARK):
                self._next_history_page(request, token)
                return
            response = self._upstream(body)
            whole = response.json() if response.status_code == 200 and not token else {}
            page_size = _page_size(request.get("maxResults"))
            if "events" not in whole or whole.get("nextToken") or len(whole["events"]) <= page_size:
                self._relay(response)  # an error, one page, or an upstream that pages itself (Step Functions Local)
                return
            self._reply_json(edge.history_pages.first(whole["events"], page_size))

        def _next_history_page(self, request: dict[str, Any], token: str) -> None:
            kept = edge.history_pages.kept(token)
            if kept is None:
                invalid = {"__type": "InvalidToken", "message": f"Invalid Token: {token}"}
                self._reply(400, json.dumps(invalid).encode("utf-8"), {"Content-Type": "application/x-amz-json-1.0"})
                return
            listing, offset, events = kept
            if events is None:  # no longer kept: read the whole history again
                whole = {name: value for name, value in request.items() if name != "nextToken"}
                response = self._upstream(json.dumps(whole).encode("utf-8"))
                if response.status_code != 200:
                    self._relay(response)
                    return
                events = response.json()["events"]
            page_size = _page_size(request.get("maxResults"))
            self._reply_json(edge.history_pages.next(listing, events, offset, page_size))

        def _reply_json(self, document: dict[str, Any]) -> None:
            self._reply(200, json.dumps(document).encode("utf-8"), {"Content-Type": "application/x-amz-json-1.0"})

        def _forward(self) -> None:
            self._relay(self._upstream(self._body()))

        def _upstream(self, body: bytes) -> requests.Response:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
            # `--sfn-endpoint http://host:port/` must not send every request to "//" (moto tolerates it; not all do).
            url = edge.upstream_url(self.headers.get("X-Amz-Target", "")).rstrip("/") + self.path
            return edge.upstream_session().request(self.command, url, data=body, headers=headers, timeout=60)

        def _relay(self, response: requests.Response, head: bool = False) -> None:
            reply_headers = {name: value for name, value in response.headers.items() if name.lower() not in _HOP_BY_HOP}
            if not head:
                self._reply(response.status_code, response.content, reply_headers)
                return
            # A HEAD answer has no body, but its Content-Length is the size of the body a GET would get.
            self.send_response(response.status_code)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", response.headers.get("Content-Length", "0"))
            self.end_headers()

    return Handler
