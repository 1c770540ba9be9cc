"""The memory of a process tree as Linux counts it: PSS summed over the tree (shared pages counted once), RSS beside it.

RSS counts every page a process maps, so forked processes that share their parent's pages count them once each;
PSS divides each shared page among the processes that map it, so a tree's PSS sums to what it occupies.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
# Reading smaps_rollup walks a process's page tables: about 1 ms each, 50 ms for a tree of 45 processes.
SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class TreeMemory:
    pss_bytes: int
    rss_bytes: int
    processes: int


def _parent_of(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:  # gone since it was listed
        return None
    # The command name (in parentheses) may hold spaces: the fields after its closing parenthesis are fixed.
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _rollup_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in KiB from /proc/<pid>/smaps_rollup; zeros for a process that has exited."""
    pss = rss = 0
    try:
        with open(_PROC / str(pid) / "smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        return 0, 0
    return pss, rss


def tree_memory(root: int) -> TreeMemory:
    pids = process_tree(root)
    rollups = [_rollup_kib(pid) for pid in pids]
    return TreeMemory(
        sum(pss for pss, _ in rollups) * 1024,
        sum(rss for _, rss in rollups) * 1024,
        sum(1 for pss, _ in rollups if pss),
    )


@contextmanager
def peak_tree_memory(root: int = 0) -> Iterator[list[TreeMemory]]:
    """Samples the tree under `root` (0: this process) until the block ends; the list then holds the peak of each
    figure (PSS, RSS, processes), each the largest of its own samples."""
    pid = root or os.getpid()
    peak = [TreeMemory(0, 0, 0)]
    stop = threading.Event()

    def sample() -> None:
        # Linux schedules threads one by one: the lowest priority keeps the sampler from slowing what it measures.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            memory, highest = tree_memory(pid), peak[0]
            peak[0] = TreeMemory(
                max(memory.pss_bytes, highest.pss_bytes),
                max(memory.rss_bytes, highest.rss_bytes),
                max(memory.processes, highest.processes),
            )
            if stop.wait(SAMPLE_SECONDS):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
