"""The engine's slowest part launched first: moto, and the edge's socket that moto is told to call Lambda at.

moto takes about 0.5 s to import and listen. A command that starts an engine begins the launch before it imports
anything else, so that its own imports, its checks of the suite and the loading of the templates run meanwhile
on the other core; LocalEngine(launch=...) then takes moto and the socket over. This module imports little.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from tollgate.engine.moto_server import MotoServer
from tollgate.loopback import listening_socket

# A fixed edge port lets Step Functions Local be started with LAMBDA_ENDPOINT pointing at it.
EDGE_PORT_VARIABLE = "TOLLGATE_EDGE_PORT"


def new_log_path() -> Path:
    return Path(tempfile.mkdtemp(prefix="tollgate-")) / "engine.log"


class EngineLaunch:
    """moto starting, aimed at the edge's socket; `with` stops whatever no engine took over (a usage error)."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path or new_log_path()
        self.log: IO[bytes] = self.log_path.open("ab")
        try:
            self.edge_socket: socket.socket = listening_socket(int(os.environ.get(EDGE_PORT_VARIABLE) or 0))
            self.moto = MotoServer(lambda_endpoint_port=self.edge_socket.getsockname()[1], log=self.log)
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> EngineLaunch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """moto killed, the socket and the log closed; a no-op for what the engine already stopped."""
        if hasattr(self, "moto"):
            self.moto.stop()
        if hasattr(self, "edge_socket"):
            self.edge_socket.close()
        self.log.close()
