"""A real HTTP service on 127.0.0.1 whose routes behave as a test asks: slow, flapping, wrong, huge."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tollgate.loopback import LoopbackServer


@dataclass
class Behaviour:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = field(default_factory=lambda: {"status": "ok"})
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    failures_before_success: int = 0  # answer 503 this many times first
    body_bytes: int = 0  # when set, stream this many bytes of 'x' as the body
    reset: bool = False  # close the connection without answering
    trickle_seconds: float = 0.0  # when set, send the body one byte at a time, this long apart


class TargetService:
    """Start with `with TargetService({"/health": Behaviour()}) as target:`; target.url is its base URL."""

    def __init__(self, routes: dict[str, Behaviour] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.routes = routes or {}
        self.hits: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(_handler_for(self), "test-target", tls=tls)
        self.url = self._server.url

    def __enter__(self) -> TargetService:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            return self.hits[path]


def _handler_for(service: TargetService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hit = service.record(self.command, self.path, dict(self.headers), body)
            behaviour = service.routes.get(self.path.split("?")[0])
            if behaviour is None:
                self._send(404, b'{"status": "not found"}', {"Content-Type": "application/json"})
                return
            time.sleep(behaviour.delay_seconds)
            if behaviour.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if hit <= behaviour.failures_before_success:
                self._send(503, b'{"status": "starting"}', {"Content-Type": "application/json"})
                return
            if behaviour.body_bytes:
                self._stream(behaviour)
                return
            if behaviour.trickle_seconds:
                self._trickle(behaviour)
                return
            payload, content_type = _encode(behaviour.body)
            self._send(behaviour.status, payload, {"Content-Type": content_type, **behaviour.headers})

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _stream(self, behaviour: Behaviour) -> None:
            self.send_response(behaviour.status)
            self.send_header("Content-Length", str(behaviour.body_bytes))
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < behaviour.body_bytes:
                    piece = chunk[: behaviour.body_bytes - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                return

        def _trickle(self, behaviour: Behaviour) -> None:
            payload, _ = _encode(behaviour.body)
            self.send_response(behaviour.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                for byte in payload:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(behaviour.trickle_seconds)
            except (BrokenPipeError, ConnectionResetError):
                return

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


def _encode(body: bytes | str | dict[str, Any] | list[Any]) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain"
    return json.dumps(body).encode(), "application/json"


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
