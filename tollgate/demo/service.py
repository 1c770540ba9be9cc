"""The demo service: a tiny HTTP API on 127.0.0.1, healthy or broken on purpose."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SUITE_PATH = Path(__file__).with_name("suite.yaml")


class DemoService:
    """Serves /health, /api/orders and /api/version; when broken, /api/orders answers 500."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="tollgate-demo", daemon=True)

    def __enter__(self) -> DemoService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

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
