"""Figures as a user sees them: every run a fresh process (an engine start, `tollgate run`, `tollgate validate`),
so imports, a cold moto and new Lambda workers count, timed from outside the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.process_memory import TreeMemory, peak_tree_memory

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: the clock starts before the engine's first import. moto is launched first, as
# `tollgate run` launches it (tollgate.entry), and the engine takes it over.
_ENGINE_READY_SCRIPT = """
import time
started = time.perf_counter()
import sys
from pathlib import Path
from tollgate.engine.launch import EngineLaunch
with EngineLaunch(Path(sys.argv[1])) as launch:
    import json
    from tollgate.engine.engine import LocalEngine
    imported = time.perf_counter()
    engine = LocalEngine(launch=launch)
    constructed = time.perf_counter()
    engine.start()
    ready = time.perf_counter()
    engine.stop()
    stopped = time.perf_counter()
print(json.dumps({
    "importSeconds": imported - started,
    "templateSeconds": constructed - imported,
    "startSeconds": engine.startup_seconds,
    "readySeconds": ready - started,
    "stopSeconds": stopped - ready,
}))
"""


class CommandFailed(RuntimeError):
    """A measured command did not end as the bench expects: its exit code and the end of what it printed."""


def user_environment() -> dict[str, str]:
    """This environment as a user's shell has it: Python caches bytecode (this machine's shells turn that off),
    so the second and later runs of a command import compiled modules, as they do on any user's machine."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def tollgate_command() -> list[str]:
    """The `tollgate` console script of the interpreter running the bench (the one `make` installed)."""
    script = Path(sys.executable).with_name("tollgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tollgate.cli"]


def _check(process: subprocess.CompletedProcess[str], expected: int = 0) -> None:
    if process.returncode != expected:
        output = (process.stdout + process.stderr)[-2000:]
        raise CommandFailed(f"{' '.join(map(str, process.args))} exited {process.returncode}:\n{output}")


def engine_ready(log_path: Path) -> dict[str, float]:
    """One engine start in a fresh process: its imports, start and stop as the process clocked them, and the
    whole process (interpreter start and exit included) as this one did."""
    process, seconds = _timed([sys.executable, "-c", _ENGINE_READY_SCRIPT, str(log_path)])
    figures: dict[str, float] = json.loads(process.stdout.strip().splitlines()[-1])
    return {**figures, "processSeconds": seconds}


def validate_seconds(suite_path: Path) -> float:
    """Wall seconds from spawning `tollgate validate SUITE` until it exited; the suite must be valid."""
    return _timed([*tollgate_command(), "validate", str(suite_path)])[1]


def _timed(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a command as a user would, checked; with the wall seconds from its spawn until it exited."""
    started = time.perf_counter()
    process = subprocess.run(command, cwd=ROOT, env=user_environment(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    _check(process)
    return process, seconds


@dataclass(frozen=True)
class ColdRun:
    wall_seconds: float  # spawn to exit: imports, engine start, the validation, engine stop
    validation_seconds: float  # the report's durationSeconds: from the hook's invocation to the verdict
    probes: int  # final probe results in the report
    passed: int
    peak: TreeMemory  # the CLI process and everything it started (moto, the Lambda workers)


def cold_run(suite_path: Path, target_url: str, report_path: Path, sample_memory: bool = False) -> ColdRun:
    """`tollgate run --quiet` from a cold start, as a user or CI runs it; the suite must pass."""
    arguments = [
        "run",
        "--suite",
        str(suite_path),
        "--target",
        target_url,
        "--quiet",
        "--report-json",
        str(report_path),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*tollgate_command(), *arguments],
        cwd=ROOT,
        env=user_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if sample_memory:
        with peak_tree_memory(process.pid) as peak:
            stdout, stderr = process.communicate()
        memory = peak[0]
    else:
        stdout, stderr = process.communicate()
        memory = TreeMemory(0, 0, 0)
    seconds = time.perf_counter() - started
    _check(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    probes = [probe for stage in report["stages"] for probe in stage["probes"]]
    return ColdRun(seconds, report["durationSeconds"], len(probes), sum(1 for probe in probes if probe["ok"]), memory)
