"""One HTTP request: what is sent, which redirects are followed, how much is read, and how failures read."""

from __future__ import annotations

import gzip
import socket
import struct
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tests.support.tls import self_signed_server_context
from tests.unit.test_http_probe import probe
from tollgate.loopback import LoopbackServer
from tollgate_core.checks import routes_of
from tollgate_core.http_attempt import build_request, describe_failure
from tollgate_core.suite import parse_suite

REDIRECTS = [301, 302, 303, 307, 308]


@pytest.fixture(scope="module")
def target() -> Iterator[TargetService]:
    routes = {
        "/health": Behaviour(body="all systems go"),
        "/ten": Behaviour(body="x" * 10),
        "/gzip": Behaviour(body=gzip.compress(b'{"status": "ok"}'), headers={"Content-Encoding": "gzip"}),
        "/slow": Behaviour(delay_seconds=0.2),
        **{f"/moved/{code}": Behaviour(status=code, headers={"Location": "/health"}) for code in REDIRECTS},
        **{f"/hop/{n}": Behaviour(status=302, headers={"Location": f"/hop/{n - 1}"}) for n in range(1, 7)},
        "/hop/0": Behaviour(body="arrived"),
        "/away": Behaviour(status=302, headers={"Location": "http://elsewhere.example/" + "p" * 200}),
    }
    with TargetService(routes) as service:
        yield service


@pytest.mark.parametrize("status", REDIRECTS)
def test_every_redirect_status_is_followed_when_the_route_allows(status: int, target: TargetService) -> None:
    result = probe(target.url, {"path": f"/moved/{status}", "followRedirects": True, "expect": {"bodyContains": "go"}})

    assert (result["ok"], result["statusCode"]) == (True, 200)


@pytest.mark.parametrize(("hops", "reason"), [(5, None), (6, "more than 5 redirects")])
def test_at_most_five_redirects_are_followed(hops: int, reason: str | None, target: TargetService) -> None:
    # Given a chain of `hops` redirects on the target's host, When the route follows redirects
    result = probe(target.url, {"path": f"/hop/{hops}", "followRedirects": True})

    # Then five are followed to the end of the chain, and a sixth fails the attempt
    assert result["reason"] == reason


def test_a_redirect_off_the_target_host_names_at_most_100_characters_of_where_it_leads(target: TargetService) -> None:
    result = probe(target.url, {"path": "/away", "followRedirects": True})

    assert result["reason"] == "redirect leaves the target host: " + ("http://elsewhere.example/" + "p" * 200)[:100]


@pytest.mark.parametrize(("cap", "note"), [(10, ""), (1024, ""), (9, " (body truncated at the read cap)")])
def test_only_a_body_longer_than_the_cap_is_truncated(cap: int, note: str, target: TargetService) -> None:
    result = probe(target.url, {"path": "/ten", "expect": {"bodyContains": "y"}}, body_cap_bytes=cap)

    assert result["reason"] == f'body does not contain "y"{note}'


def test_a_compressed_body_is_checked_as_the_target_meant_it(target: TargetService) -> None:
    result = probe(target.url, {"path": "/gzip", "expect": {"json": {"$.status": "ok"}}})

    assert result["ok"] is True


def test_latency_is_measured_from_the_request_to_the_last_byte(target: TargetService) -> None:
    # Given a target that answers after 200 ms, and a route allowing 100 ms
    result = probe(target.url, {"path": "/slow", "expect": {"maxLatencyMs": 100}})

    # Then the attempt fails on its latency, which is what the target took
    assert result["latencyMs"] is not None and 200 <= result["latencyMs"] < 2000
    assert result["reason"] == f"latency {result['latencyMs']:.0f} ms over 100 ms"


def test_an_explicit_verify_tls_false_raises_no_warning_per_request() -> None:
    # Given a TLS target whose certificate no client trusts, and a suite that says verifyTls: false
    tls = self_signed_server_context()
    with TargetService({"/health": Behaviour()}, tls=tls) as target, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = probe(target.url, {"path": "/health"}, target={"verifyTls": False})

    # Then the attempt passes without urllib3's warning, which would fill the probe's log on every request
    assert result["ok"] is True
    assert not [warning for warning in caught if issubclass(warning.category, InsecureRequestWarning)]


class UnsendableSecrets:
    def resolve(self, reference: dict[str, str]) -> str:
        return "t€ken"  # no Latin-1: http.client cannot put it in a header


def test_a_header_value_that_cannot_be_sent_fails_the_attempt_naming_the_error(target: TargetService) -> None:
    result = probe(target.url, {"path": "/health", "headers": {"X-Token": {"ssm": "/t"}}}, secrets=UnsendableSecrets())

    assert result["reason"] == "request cannot be sent: UnicodeEncodeError"


class HalfAnswer(BaseHTTPRequestHandler):
    """Promises 100 bytes, sends 7, then resets the connection: a target that crashed mid-answer."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"partial")
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # before the server's graceful shutdown could send a FIN: the client sees a reset
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def test_a_connection_reset_in_the_middle_of_the_body_is_a_reset() -> None:
    server = LoopbackServer(HalfAnswer, "half-answer")
    server.start()
    try:
        result = probe(server.url, {})
    finally:
        server.stop()

    assert result["reason"] == "connection reset by the target"


def connection_error(message: str) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        f"HTTPConnectionPool(host='shop.internal', port=80): Max retries exceeded with url: /health ({message})"
    )


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Caused by NameResolutionError(\"Failed to resolve 'shop.internal'\")", "DNS lookup failed for shop.internal"),
        ("[Errno -2] Name or service not known", "DNS lookup failed for shop.internal"),
        ("nodename nor servname provided, or not known", "DNS lookup failed for shop.internal"),
        ("[Errno 111] Connection refused", "connection refused"),
        ("[Errno 104] Connection reset by peer", "connection reset by the target"),
        ("RemoteDisconnected('Remote end closed connection without response')", "connection reset by the target"),
        ("('Connection aborted.', BrokenPipeError(32, 'Broken pipe'))", "connection reset by the target"),
    ],
)
def test_each_kind_of_network_failure_reads_as_what_it_is(message: str, reason: str) -> None:
    assert describe_failure(connection_error(message), 2, "http://shop.internal/health") == reason


def test_any_other_failure_names_its_innermost_cause_in_at_most_120_characters() -> None:
    # Given a failure raised while handling another, whose message is long
    try:
        try:
            raise OSError("the innermost cause " + "x" * 200)
        except OSError:
            raise connection_error("something else went wrong") from None
    except requests.exceptions.ConnectionError as error:
        failure = error

    # Then the reason names the innermost one, cut to 120 characters
    assert describe_failure(failure, 2, "http://shop.internal/health") == (
        "request failed: " + ("the innermost cause " + "x" * 200)[:120]
    )


def test_a_string_body_is_sent_as_written_and_an_object_as_json() -> None:
    suite = parse_suite(
        suite_document(
            stage(
                "smoke",
                route("text", body="plain words"),
                route("patch", headers={"content-type": "application/merge-patch+json"}, body={"a": 1}),
                route("json", body={"a": 1}),
            )
        )
    )
    text, patch, json_body = (build_request(r, suite.target) for r in routes_of(suite.stages[0]))

    assert (text.body, text.headers) == ("plain words", {})
    assert (patch.body, patch.headers) == ('{"a": 1}', {"content-type": "application/merge-patch+json"})
    assert (json_body.body, json_body.headers) == ('{"a": 1}', {"Content-Type": "application/json"})
