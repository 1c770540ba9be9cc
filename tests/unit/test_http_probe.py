"""One probe attempt against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.target import Behaviour, TargetService, closed_port_url
from tests.support.tls import self_signed_server_context
from tollgate_core.checks import routes_of
from tollgate_core.contracts import ProbeResult
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.suite import parse_suite


@pytest.fixture
def target() -> Iterator[TargetService]:
    with TargetService() as service:
        yield service


def probe(
    base_url: str, route: dict[str, Any], attempt: int = 1, target: dict[str, Any] | None = None, **kwargs: Any
) -> ProbeResult:
    document = {
        "version": 1,
        "target": {"baseUrl": base_url, **(target or {})},
        "stages": [{"name": "smoke", "routes": [{"name": "r", "path": "/r", **route}]}],
    }
    suite = parse_suite(document)
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, round=1, attempt=attempt)
    return probe_attempt(request, rng=random.Random(1), **kwargs)


def test_a_passing_attempt_is_final_and_reports_status_and_latency(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(body={"status": "ok"})

    result = probe(target.url, {"expect": {"json": {"$.status": "ok"}}})

    assert result["ok"] is True
    assert result["final"] is True
    assert result["statusCode"] == 200
    assert result["latencyMs"] is not None and result["latencyMs"] > 0
    assert result["reason"] is None
    assert (result["stage"], result["route"], result["round"], result["attempts"]) == ("smoke", "r", 1, 1)


def test_a_failed_attempt_asks_for_a_retry_until_the_last(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=500)
    route = {"retry": {"maxAttempts": 3, "intervalSeconds": 4}}

    first = probe(target.url, route, attempt=1)
    last = probe(target.url, route, attempt=3)

    assert (first["ok"], first["final"]) == (False, False)
    assert 0 <= first["retryInSeconds"] <= 4
    assert (last["final"], last["retryInSeconds"]) == (True, 0)
    assert last["reason"] == "status 500, expected 2xx"


def test_headers_body_and_method_reach_the_target(target: TargetService) -> None:
    target.routes["/r"] = Behaviour()

    probe(
        target.url,
        {"method": "POST", "headers": {"X-Route": "r"}, "body": {"order": 1}},
        target={"headers": {"Host": "api.example.com", "X-Route": "target"}},
    )

    sent = target.requests[-1]
    assert sent["method"] == "POST"
    assert sent["headers"]["Host"] == "api.example.com"
    assert sent["headers"]["X-Route"] == "r"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["body"] == b'{"order": 1}'


def test_connection_refused() -> None:
    result = probe(closed_port_url(), {})

    assert (result["ok"], result["statusCode"], result["reason"]) == (False, None, "connection refused")


def test_a_target_slower_than_the_timeout(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(delay_seconds=0.5)

    result = probe(target.url, {}, target={"timeoutSeconds": 0.1})

    assert result["reason"] == "no response within 0.1 s"


def test_redirects_are_not_followed_by_default(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=302, headers={"Location": "/elsewhere"})

    result = probe(target.url, {})

    assert result["reason"] == "status 302, expected 2xx"
    assert "/elsewhere" not in target.hits


def test_redirects_on_the_same_host_are_followed_when_allowed(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=302, headers={"Location": "/final"})
    target.routes["/final"] = Behaviour()

    assert probe(target.url, {"followRedirects": True})["ok"] is True


def test_a_redirect_loop_stops(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=302, headers={"Location": "/r"})

    result = probe(target.url, {"followRedirects": True})

    assert result["reason"] == "more than 5 redirects"


def test_a_redirect_off_the_target_host_is_refused(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=302, headers={"Location": "http://elsewhere.example/"})

    result = probe(target.url, {"followRedirects": True})

    assert result["reason"] == "redirect leaves the target host: http://elsewhere.example/"


def test_a_huge_body_is_read_only_up_to_the_cap(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(body_bytes=8 * 1024 * 1024)

    result = probe(target.url, {"expect": {"bodyContains": "end"}}, body_cap_bytes=64 * 1024)

    assert result["reason"] == 'body does not contain "end" (body truncated at the read cap)'


def test_a_connection_reset_by_the_target() -> None:
    with TargetService({"/r": Behaviour(reset=True)}) as target:
        result = probe(target.url, {})

    assert result["reason"] == "connection reset by the target"


def test_an_untrusted_certificate_is_a_tls_error_unless_verification_is_off() -> None:
    with TargetService({"/r": Behaviour()}, tls=self_signed_server_context()) as target:
        verified = probe(target.url, {})
        unverified = probe(target.url, {}, target={"verifyTls": False})

    assert verified["reason"] is not None
    assert verified["reason"].startswith("TLS error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in verified["reason"]
    assert unverified["ok"] is True


def test_an_unknown_host_is_a_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # No DNS query may leave this machine: the resolver answers as it does for a name that does not exist.
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)

    result = probe("http://no-such-host.example", {})

    assert result["reason"] == "DNS lookup failed for no-such-host.example"


def test_a_redirect_to_an_allowed_host_is_followed(target: TargetService) -> None:
    with TargetService({"/final": Behaviour()}) as other:
        other_host = other.url.removeprefix("http://")
        target.routes["/r"] = Behaviour(status=302, headers={"Location": f"{other.url}/final"})

        result = probe(target.url, {"followRedirects": True, "allowRedirectHosts": [other_host]})

    assert result["ok"] is True


def test_a_body_that_trickles_in_cannot_outlast_the_timeout(target: TargetService) -> None:
    # Given a body of 200 bytes sent one every 50 ms: 10 s in all, each byte well within the read timeout
    target.routes["/r"] = Behaviour(body="x" * 200, trickle_seconds=0.05)

    result = probe(target.url, {}, target={"timeoutSeconds": 0.5})

    assert result["reason"] == "response not complete within 0.5 s"


def test_redirects_share_one_timeout(target: TargetService) -> None:
    target.routes["/r"] = Behaviour(status=302, headers={"Location": "/slow"}, delay_seconds=0.3)
    target.routes["/slow"] = Behaviour(delay_seconds=0.3)

    result = probe(target.url, {"followRedirects": True}, target={"timeoutSeconds": 0.4})

    assert result["reason"] == "no response within 0.4 s"
