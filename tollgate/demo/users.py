"""The demo service's users: light, steady traffic, as a real load balancer sees beside the probes."""

from __future__ import annotations

import contextlib
import itertools
import threading

import requests

USER_PATHS = ("/api/orders", "/health")
REQUESTS_PER_SECOND = 5.0
_TIMEOUT_SECONDS = 2.0


class SimulatedUsers:
    """Sends GET requests to the paths in turn, a few a second, from start until stop."""

    def __init__(
        self, base_url: str, paths: tuple[str, ...] = USER_PATHS, requests_per_second: float = REQUESTS_PER_SECOND
    ) -> None:
        self._urls = [base_url.rstrip("/") + path for path in paths]
        self._interval = 1 / requests_per_second
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._browse, name="tollgate-demo-users", daemon=True)

    def __enter__(self) -> SimulatedUsers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _browse(self) -> None:
        with requests.Session() as session:
            for url in itertools.cycle(self._urls):
                if self._stopping.is_set():
                    return
                with contextlib.suppress(requests.RequestException):  # a user without an answer comes back later
                    session.get(url, timeout=_TIMEOUT_SECONDS).close()
                self._stopping.wait(self._interval)
