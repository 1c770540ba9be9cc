"""The engine starts on loopback and leaves nothing behind: processes, threads, ports."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate import entry
from tollgate.engine import moto_server
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.engine.launch import EngineLaunch
from tollgate.local_run import run_validation

USER_APP = Path(__file__).resolve().parents[1] / "support" / "user_app" / "template.yaml"
ECHO = "user-app-echo"


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


def test_an_engine_takes_over_a_launched_moto_and_starts_with_functions_configured_before(tmp_path: Path) -> None:
    # Given moto launched ahead, and the user's function configured before the engine starts
    launch = EngineLaunch(tmp_path / "engine.log")
    launched_edge_port = launch.edge_socket.getsockname()[1]
    engine = LocalEngine(app_templates=[USER_APP], launch=launch)
    engine.configure_function(ECHO, {"GREETING": "configured before start"})

    # When the engine starts and the function is invoked
    with launch, engine:
        answer = json.loads(engine.invoke(ECHO, {"hello": "world"}).payload)
        edge_port, moto_process = engine.edge.port, launch.moto.process
        urls = [engine.edge.url, engine.edge.moto_url]

    # Then the engine used the launched moto and the edge's socket, the function ran as configured, and the
    # engine's stop stopped what the launch started
    assert edge_port == launched_edge_port
    assert answer["greeting"] == "configured before start"
    assert moto_process.poll() is not None
    assert not any(port_is_open(url) for url in urls)
    assert engine.log_path == tmp_path / "engine.log"


def test_a_function_the_engine_does_not_have_cannot_be_expected(tmp_path: Path) -> None:
    engine = LocalEngine(log_path=tmp_path / "engine.log")
    with pytest.raises(EngineError, match="no function is named no-such-function"):
        engine.expect_invocation("no-such-function")


def test_a_command_that_ends_before_any_engine_starts_stops_the_moto_it_launched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launches: list[EngineLaunch] = []

    def recorded_launch() -> EngineLaunch:
        launches.append(EngineLaunch(tmp_path / "engine.log"))
        return launches[-1]

    monkeypatch.setattr(entry, "EngineLaunch", recorded_launch)

    # When `tollgate run` fails on its suite file before it starts an engine
    code = entry.main(["run", "--suite", str(tmp_path / "missing.yaml")])

    # Then it exits with the usage code, and the moto it launched first is stopped and its edge port closed
    assert code == 2
    [launch] = launches
    assert launch.moto.process.poll() is not None
    assert launch.edge_socket.fileno() == -1


@pytest.mark.parametrize(
    ("argv", "starts"),
    [
        (["run", "--suite", "s.yaml"], True),
        (["demo"], True),
        (["run", "--help"], False),
        (["validate", "s.yaml"], False),
        (["inspect", "arn"], False),
        ([], False),
    ],
)
def test_only_the_commands_that_start_an_engine_launch_moto_first(argv: list[str], starts: bool) -> None:
    assert entry.starts_engine(argv) is starts


def test_configurations_given_before_start_add_up_as_updates_after_it_do(tmp_path: Path) -> None:
    # Given two partial configurations of a function before the engine starts
    engine = LocalEngine(log_path=tmp_path / "engine.log", app_templates=[USER_APP])
    engine.configure_function(ECHO, {"GREETING": "first"})
    engine.configure_function(ECHO, timeout_seconds=5)

    # When it is invoked / Then it runs with both
    with engine:
        answer = json.loads(engine.invoke(ECHO, {}).payload)
    assert answer["greeting"] == "first"


def test_an_engine_that_never_started_stops_the_moto_launched_for_it(tmp_path: Path) -> None:
    # Given moto launched for an engine that is then stopped without starting (a bad suite, say)
    launch = EngineLaunch(tmp_path / "engine.log")
    engine = LocalEngine(launch=launch)

    # When the engine stops / Then so does the launched moto
    engine.stop()
    assert launch.moto.process.poll() is not None
