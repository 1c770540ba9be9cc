"""One HTTP request to the target, read up to a cap, with failures turned into readable reasons."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.exceptions import InsecureRequestWarning

from tollgate_core.contracts import Route, Target
from tollgate_core.expectations import HttpResponse
from tollgate_core.secrets import SecretResolver, resolve_headers
from tollgate_core.settings import DEFAULT_BODY_CAP_BYTES

MAX_REDIRECTS = 5
_CHUNK_BYTES = 64 * 1024


class RequestFailed(Exception):
    """The request got no usable response; the message says why in a user's words."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    timeout_seconds: float
    verify_tls: bool
    follow_redirects: bool
    redirect_hosts: frozenset[str]  # hosts a followed redirect may reach: the target's own and those allowed


def build_request(route: Route, target: Target, secrets: SecretResolver | None = None) -> HttpRequest:
    """The request for one attempt; header references are resolved here, at call time."""
    headers = resolve_headers({**target["headers"], **route["headers"]}, secrets)
    body = route["body"]
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    return HttpRequest(
        method=route["method"],
        url=target["baseUrl"] + route["path"],
        headers=headers,
        body=body,
        timeout_seconds=float(target["timeoutSeconds"]),
        verify_tls=bool(target["verifyTls"]),
        follow_redirects=bool(route["followRedirects"]),
        redirect_hosts=frozenset([urlsplit(target["baseUrl"]).netloc, *route.get("allowRedirectHosts", [])]),
    )


def send(request: HttpRequest, body_cap_bytes: int = DEFAULT_BODY_CAP_BYTES) -> HttpResponse:
    """Send the request and return the response; raise RequestFailed when there is none.

    `timeoutSeconds` bounds the whole attempt, redirects and a slowly trickling body included.
    """
    started = time.perf_counter()
    url = request.url
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            response = _send_once(session, request, url, body_cap_bytes, started)
            location = response.headers.get("Location")
            if not (request.follow_redirects and response.status_code in (301, 302, 303, 307, 308) and location):
                return response
            url = _redirect_url(request.redirect_hosts, url, location)
    raise RequestFailed(f"more than {MAX_REDIRECTS} redirects")


def _redirect_url(allowed_hosts: frozenset[str], current: str, location: str) -> str:
    next_url = urljoin(current, location)
    if urlsplit(next_url).netloc not in allowed_hosts:
        raise RequestFailed(f"redirect leaves the target host: {next_url[:100]}")
    return next_url


def _send_once(
    session: requests.Session, request: HttpRequest, url: str, body_cap_bytes: int, started: float
) -> HttpResponse:
    remaining = request.timeout_seconds - (time.perf_counter() - started)
    if remaining <= 0:
        raise RequestFailed(f"no response within {request.timeout_seconds:g} s")
    try:
        with warnings.catch_warnings():
            if not request.verify_tls:  # the suite said so explicitly, and the report shows it
                warnings.simplefilter("ignore", InsecureRequestWarning)
            response = session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.body,
                timeout=remaining,
                verify=request.verify_tls,
                allow_redirects=False,
                stream=True,
            )
        with response:
            body, truncated = _read_capped(response, body_cap_bytes, started + request.timeout_seconds)
            if body is None:
                raise RequestFailed(f"response not complete within {request.timeout_seconds:g} s")
            return HttpResponse(
                status_code=response.status_code,
                headers=response.headers,
                body=body,
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
                truncated=truncated,
            )
    except requests.RequestException as error:
        raise RequestFailed(describe_failure(error, request.timeout_seconds, url)) from error
    except (UnicodeError, ValueError) as error:  # e.g. a resolved secret that is no valid header value
        raise RequestFailed(f"request cannot be sent: {type(error).__name__}") from error


def _read_capped(response: requests.Response, cap: int, deadline: float) -> tuple[bytes | None, bool]:
    """Read at most `cap` bytes, never buffering a larger body whole; None when the deadline passes first.

    read1 returns what has arrived, so a body that trickles in cannot hold the read past the deadline.
    """
    body = bytearray()
    while chunk := _read_some(response):
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True
        if time.perf_counter() > deadline:
            return None, False
    return bytes(body), False


def _read_some(response: requests.Response) -> bytes:
    try:
        chunk: bytes = response.raw.read1(_CHUNK_BYTES, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ReadTimeout(error) from error
    except urllib3.exceptions.HTTPError as error:
        raise requests.exceptions.ConnectionError(error) from error
    return chunk


def describe_failure(error: requests.RequestException, timeout_seconds: float, url: str) -> str:
    """A distinct, readable reason per kind of network failure."""
    text = str(error)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"connect timeout after {timeout_seconds:g} s"
    if isinstance(error, requests.exceptions.Timeout):
        return f"no response within {timeout_seconds:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS error: {_innermost(error)}"
    if "NameResolutionError" in text or "Name or service not known" in text or "nodename nor servname" in text:
        return f"DNS lookup failed for {urlsplit(url).hostname}"
    if "Connection refused" in text:
        return "connection refused"
    if "Connection reset" in text or "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection reset by the target"
    return f"request failed: {_innermost(error)}"


def _innermost(error: BaseException) -> str:
    while error.__context__ is not None and error.__context__ is not error:
        error = error.__context__
    return str(error)[:120]
