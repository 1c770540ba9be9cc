"""The demo service: a tiny HTTP API on 127.0.0.1, healthy or broken on purpose."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tollgate.loopback import LoopbackServer

SUITE_PATH = Path(__file__).with_name("suite.yaml")


class DemoService:
    """Serves /health, /api/orders and /api/version; when broken, /api/orders answers 500."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
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


def _handler_for(service: DemoService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, document = service.response(self.path)
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
