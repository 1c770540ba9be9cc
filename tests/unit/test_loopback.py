"""The loopback servers every local part of the engine answers on."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from tollgate.loopback import LoopbackServer, listening_socket


class SocketOptions(BaseHTTPRequestHandler):
    """Answers with whether Nagle's algorithm is off on the connection it answers on."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = str(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def test_answers_are_sent_without_waiting_for_the_clients_acknowledgement() -> None:
    # Given a loopback server
    server = LoopbackServer(SocketOptions, "socket-options")
    server.start()
    try:
        # When a client asks on a kept-alive connection
        with requests.Session() as session:
            answers = [session.get(server.url, timeout=5).text for _ in range(2)]
    finally:
        server.stop()

    # Then each answer went out on a connection with Nagle's algorithm off (a body written after its headers
    # would otherwise wait for the client's delayed ACK)
    assert answers == ["1", "1"]


def test_a_server_serves_the_socket_it_was_given() -> None:
    # Given a socket listening before the server exists (the engine's edge, launched with moto)
    listening = listening_socket()
    port = listening.getsockname()[1]

    # When a server is made for it and started
    server = LoopbackServer(SocketOptions, "given-socket", listening=listening)
    server.start()
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        server.stop()

    # Then it answers on that socket's port
    assert (server.port, answer.status_code) == (port, 200)
