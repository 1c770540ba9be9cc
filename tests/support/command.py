"""The installed `tollgate` command, run as a user runs it: in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOLLGATE = str(Path(sys.executable).with_name("tollgate"))


def tollgate(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOLLGATE, *arguments], capture_output=True, text=True, timeout=120, check=False)
