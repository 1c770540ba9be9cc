from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import enable_socket, socket_allow_hosts

from tollgate_core.observability import metrics


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Unit tests may talk to servers they start on 127.0.0.1 and nowhere else."""
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> Iterator[None]:
    """Powertools keeps unflushed metrics in class state: no test sees another's."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
