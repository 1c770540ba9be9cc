"""The engine starts on loopback and leaves nothing behind: processes, threads, ports."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine import moto_server
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import run_validation


def port_is_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def test_a_run_leaves_no_process_thread_or_port_behind(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))

    # Given an engine that ran a validation
    with TargetService({"/health": Behaviour()}) as target, LocalEngine(log_path=tmp_path / "engine.log") as engine:
        assert run_validation(engine, suite, target.url, timeout_seconds=60).reported_status == "Succeeded"
        processes = engine.processes()
        assert len(processes) > 1
        urls = [engine.edge.url, engine.edge.moto_url]

    # Then every worker and moto exited, no engine thread lives on, and no port still listens
    assert all(process.poll() is not None for process in processes)
    assert set(threading.enumerate()) <= threads_before
    assert not any(port_is_open(url) for url in urls)


def test_moto_starts_again_when_its_port_was_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the first free port the engine picks for moto is taken before moto binds it
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        ports = iter([squatter.getsockname()[1]])
        real_free_port = moto_server._free_port
        monkeypatch.setattr(moto_server, "_free_port", lambda: next(ports, None) or real_free_port())

        # When the engine starts / Then it retries on another port and works
        with LocalEngine(log_path=tmp_path / "engine.log") as engine:
            assert engine.edge.moto_url != f"http://127.0.0.1:{squatter.getsockname()[1]}"
            assert engine.client("stepfunctions").list_state_machines()["stateMachines"]
