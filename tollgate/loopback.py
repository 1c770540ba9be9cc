"""A threaded HTTP server on 127.0.0.1 and a free port, served from a background thread."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_POLL_SECONDS = 0.02


class _Server(ThreadingHTTPServer):
    """Closing it ends every open connection and joins every request thread: nothing outlives a stop."""

    daemon_threads = False
    block_on_close = True
    # socketserver's default backlog of 5 drops the connections of a Map's fan-out; a dropped SYN costs 1 s.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], listening: socket.socket | None = None
    ) -> None:
        super().__init__(address, handler, bind_and_activate=listening is None)
        if listening is not None:
            self.socket.close()
            self.socket = listening
            self.server_address = listening.getsockname()
            self.server_name, self.server_port = "127.0.0.1", self.server_address[1]
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        # A handler writes the headers, then the body: with Nagle's algorithm the body would wait for the client's
        # delayed ACK on a kept-alive connection, 40 ms an answer (a tally's, a report's at the edge).
        with contextlib.suppress(OSError):  # a connection already reset (some systems refuse the option then)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections would hold their threads forever
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout, a read cap) closes its connection mid-answer; that is expected."""


def listening_socket(port: int = 0) -> socket.socket:
    """A socket listening on 127.0.0.1 (a free port unless one is given), for a LoopbackServer to serve later."""
    return socket.create_server(("127.0.0.1", port), backlog=_Server.request_queue_size)


class LoopbackServer:
    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        name: str,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        listening: socket.socket | None = None,
    ) -> None:
        """`listening`: a socket from listening_socket() to serve, instead of one bound to `port` here."""
        self.server = _Server(("127.0.0.1", port), handler, listening)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port: int = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # shutdown() waits until the serving loop looks at its flag: every 0.5 s by default, a wait on every stop.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": _POLL_SECONDS}, name=name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()
