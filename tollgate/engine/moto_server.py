"""moto in server mode, with its Step Functions interpreter on and its Lambda calls sent to the edge.

It runs tollgate.engine.moto_main, moto's server with CloudWatch's GetMetricData answered as CloudWatch does.
The engine always starts one of its own, for CloudWatch, Secrets Manager and SSM, and for Step Functions
unless an external API takes those (`tollgate run --sfn-endpoint`); started apart from an engine, it is such
an external Step Functions API, wired the way Step Functions Local is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

_START_TIMEOUT_SECONDS = 20.0
_POLL_SECONDS = 0.01
_START_ATTEMPTS = 3
# moto_main patches moto's CloudWatch backend, so it refuses any moto but the one constraints.txt pins
# (tests/integration/test_local_cloudwatch_server.py keeps the two equal), exiting with sysexits' EX_CONFIG.
PINNED_MOTO_VERSION = "5.2.5"
UNPINNED_MOTO_EXIT_CODE = 78
# Where moto keeps the state machine definitions it parsed, for the next engine (tollgate.engine.moto_patches).
PARSED_DEFINITIONS_VARIABLE = "TOLLGATE_PARSED_DEFINITIONS"
PARSED_DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "build" / "parsed-definitions"


class MotoServerExited(RuntimeError):
    """moto stopped before it answered, e.g. because its port was taken."""


class UnpinnedMoto(RuntimeError):
    """The installed moto is not the version constraints.txt pins; trying again cannot help."""


def _listening(port: int) -> bool:
    """A bare connection attempt: cheap enough to repeat every few milliseconds while moto imports."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MotoServer:
    def __init__(self, lambda_endpoint_port: int, log: IO[bytes]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # moto's interpreter invokes Lambda at http://localhost:$MOTO_PORT: that is the edge.
        env = {
            PARSED_DEFINITIONS_VARIABLE: str(PARSED_DEFINITIONS_DIR),
            **os.environ,
            "MOTO_PORT": str(lambda_endpoint_port),
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            # Unbuffered: stop() kills it, and what it printed must be in the log.
            [sys.executable, "-u", "-m", "tollgate.engine.moto_main", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )

    def wait_ready(self) -> None:
        import requests  # here: the CLI launches moto before it imports anything it can import meanwhile

        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            exit_code = self.process.poll()
            if exit_code == UNPINNED_MOTO_EXIT_CODE:
                raise UnpinnedMoto(f"moto is not {PINNED_MOTO_VERSION}, as constraints.txt pins; see the engine log")
            if exit_code is not None:
                raise MotoServerExited(f"moto server exited with code {exit_code}; see the engine log")
            if not _listening(self.port):  # still importing
                time.sleep(_POLL_SECONDS)
                continue
            try:
                requests.get(f"{self.url}/moto-api/", timeout=1).raise_for_status()
            except requests.RequestException:  # not answering yet, or someone else holds the port
                time.sleep(_POLL_SECONDS)
                continue
            requests.post(
                f"{self.url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=5
            ).raise_for_status()
            return
        raise RuntimeError(f"moto server did not start within {_START_TIMEOUT_SECONDS:.0f} s")

    def stop(self) -> None:
        """Killed, not terminated: its state lives in memory and ends with it, and a graceful exit costs 0.5 s."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_moto_server(lambda_endpoint_port: int, log: IO[bytes], launched: MotoServer | None = None) -> MotoServer:
    """A ready moto on a free port; another process may take that port first, so a failed start is tried again.

    `launched` is a moto already starting (the engine launches it first, to do its own work while moto imports).
    """
    attempts_left = _START_ATTEMPTS
    while True:
        server = launched or MotoServer(lambda_endpoint_port, log)
        launched = None
        try:
            server.wait_ready()
            return server
        except MotoServerExited:
            server.stop()
            attempts_left -= 1
            if not attempts_left:
                raise
        except BaseException:
            server.stop()
            raise
