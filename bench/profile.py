"""A bench scenario under a sampling profiler (`python -m bench.run --profile SCENARIO`), written to build/.

py-spy samples the CLI and every process it starts (moto, the Lambda workers); pyinstrument, when py-spy is
missing, only the CLI process. Neither is a dependency of the project: `pip install py-spy` first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.whole_process import ROOT, tollgate_command, user_environment

BUILD = ROOT / "build"
# At 100 per second py-spy falls seconds behind on 45 processes and 2 cores.
SAMPLES_PER_SECOND = 50
TOP_FRAMES = 25
_PROCESS_FRAME = re.compile(r'^process (\d+):"(.*)"$', re.DOTALL)
_STACK_COUNT = re.compile(r"^(.*) (\d+)$", re.DOTALL)


class NoProfiler(RuntimeError):
    """Neither py-spy nor pyinstrument is installed: the message says how to install one."""


@dataclass
class _ProcessSamples:
    """The samples of every process that ran the same command line."""

    pids: set[int] = field(default_factory=set)
    total: int = 0
    own: Counter[str] = field(default_factory=Counter)  # samples with this frame on top of the stack
    within: Counter[str] = field(default_factory=Counter)  # samples with this frame anywhere in the stack


def _installed(tool: str) -> str | None:
    return shutil.which(tool, path=str(Path(sys.executable).parent)) or shutil.which(tool)


def profile_command(name: str, arguments: list[str]) -> list[Path]:
    """Run `tollgate ARGUMENTS` under a profiler; the files written, the summary first."""
    BUILD.mkdir(exist_ok=True)
    py_spy = _installed("py-spy")
    if py_spy:
        return _py_spy(py_spy, name, arguments)
    pyinstrument = _installed("pyinstrument")
    if pyinstrument:
        return _pyinstrument(pyinstrument, name, arguments)
    raise NoProfiler("no profiler: `.venv/bin/pip install py-spy` (or pyinstrument, which sees only the CLI process)")


def _py_spy(py_spy: str, name: str, arguments: list[str]) -> list[Path]:
    raw = BUILD / f"profile-{name}.raw.txt"
    summary = BUILD / f"profile-{name}.txt"
    # Without --nonblocking py-spy pauses each process to read its stack: 45 processes on 2 cores would crawl.
    record = ["record", "--subprocesses", "--nonblocking", "--rate", str(SAMPLES_PER_SECOND), "--format", "raw"]
    subprocess.run(
        [py_spy, *record, "--output", str(raw), "--", *tollgate_command(), *arguments],
        cwd=ROOT,
        env=user_environment(),
        check=True,
    )
    command = " ".join(["tollgate", *arguments])
    summary.write_text(summarize_collapsed(raw.read_text(encoding="utf-8"), command), encoding="utf-8")
    return [summary, raw]


def _pyinstrument(pyinstrument: str, name: str, arguments: list[str]) -> list[Path]:
    html = BUILD / f"profile-{name}.html"
    command = tollgate_command()
    script = command if len(command) == 1 else ["-m", "tollgate.cli"]
    subprocess.run(
        [pyinstrument, "--renderer", "html", "--outfile", str(html), *script, *arguments],
        cwd=ROOT,
        env=user_environment(),
        check=True,
    )
    return [html]


def _stacks(collapsed: str) -> list[tuple[list[str], int]]:
    """(frames, samples) from py-spy's raw (collapsed) format; a command line in a process frame may span lines."""
    stacks, pending = [], ""
    for line in collapsed.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        record = _STACK_COUNT.match(pending)
        if record:
            stacks.append((record.group(1).split(";"), int(record.group(2))))
            pending = ""
    return stacks


def summarize_collapsed(collapsed: str, profiled_command: str) -> str:
    """Samples per command line (summed over its processes), and each one's busiest functions.

    py-spy names the process it started with an empty command line (it has exited when py-spy writes its file).
    """
    by_command: dict[str, _ProcessSamples] = {}
    for frames, count in _stacks(collapsed):
        processes = [(index, _PROCESS_FRAME.match(frame)) for index, frame in enumerate(frames)]
        innermost = [(index, match) for index, match in processes if match]
        if not innermost:
            continue
        index, match = innermost[-1]
        command = " ".join(match.group(2).split()) or profiled_command
        samples = by_command.setdefault(command[:120], _ProcessSamples())
        samples.pids.add(int(match.group(1)))
        samples.total += count
        code = frames[index + 1 :]
        if code:
            samples.own[code[-1]] += count
        for frame in set(code):
            samples.within[frame] += count
    total = sum(samples.total for samples in by_command.values()) or 1
    lines = [
        f"{total} samples at {SAMPLES_PER_SECOND} per second (CPU only: idle threads are not sampled)",
        "",
    ]
    for command, samples in sorted(by_command.items(), key=lambda item: -item[1].total):
        share = 100 * samples.total / total
        lines.append(f"== {command}: {len(samples.pids)} processes, {samples.total} samples ({share:.0f} %)")
        for title, counter in (("own time", samples.own), ("within (the function or what it calls)", samples.within)):
            lines.append(f"   {title}:")
            for frame, count in counter.most_common(TOP_FRAMES):
                lines.append(f"   {100 * count / samples.total:5.1f} %  {frame}")
        lines.append("")
    return "\n".join(lines)
