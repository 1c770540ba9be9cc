"""The demo service: a tiny HTTP API on 127.0.0.1, healthy or broken on purpose, behind a pretend ALB."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tollgate.demo.load_balancer import AccessLog, ServedRequest
from tollgate.loopback import LoopbackServer
from tollgate_core.checks import metrics_of
from tollgate_core.contracts import TargetGroupMetrics
from tollgate_core.suite import SuiteError, load_suite

SUITE_PATH = Path(__file__).with_name("suite.yaml")


class DemoService:
    """Serves /health, /api/orders and /api/version; when broken, /api/orders answers 500.

    Every request it answers goes to its access log, as its load balancer would see it.
    """

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.access_log = AccessLog()
        self._server = LoopbackServer(_handler_for(self), "tollgate-demo")
        self.url = self._server.url

    def __enter__(self) -> DemoService:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def response(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/api/orders":
            if self.broken:
                return 500, {"status": "error", "message": "database unreachable"}
            return 200, {"status": "ok", "orders": [{"id": 1, "total": 42.0}]}
        if path == "/api/version":
            return 200, {"version": "2.0.0"}
        return 404, {"status": "not found"}


def demo_target_group() -> TargetGroupMetrics:
    """The ALB target group the demo suite's metric check reads: the one the demo service stands behind."""
    suite = load_suite(SUITE_PATH)
    for stage in suite.stages:
        for check in metrics_of(stage):
            if "alb" in check:
                return check["alb"]
    raise SuiteError(["no metric check names the ALB target group the demo service stands behind"], str(SUITE_PATH))


def _handler_for(service: DemoService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            started = time.perf_counter()
            status, document = service.response(self.path)
            body = json.dumps(document).encode()
            # Logged before the client can read the answer: whoever got an answer finds its request logged.
            service.access_log.record(ServedRequest(time.time(), status, time.perf_counter() - started))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
