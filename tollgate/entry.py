"""The `tollgate` command. One that starts an engine (run, demo) launches moto before it imports anything else:
moto's start, the longest part of the engine's, then overlaps the command's own imports and checks."""

from __future__ import annotations

import atexit
import gc
import sys

from tollgate.engine.launch import EngineLaunch

ENGINE_COMMANDS = frozenset({"run", "demo"})


def starts_engine(argv: list[str]) -> bool:
    """A command that starts an engine, unless it is only asked for its help."""
    return bool(argv) and argv[0] in ENGINE_COMMANDS and not {"-h", "--help"} & set(argv)


def main(argv: list[str] | None = None) -> int:
    # The process ends with the command, and its objects with it: frozen at exit, they are not walked by the
    # interpreter's last garbage collections (0.1 s of every `tollgate run`'s exit).
    atexit.register(gc.freeze)
    arguments = sys.argv[1:] if argv is None else argv
    if not starts_engine(arguments):
        from tollgate.cli import main as cli_main

        return cli_main(arguments)
    with EngineLaunch() as launch:  # stops moto if the command ends without an engine taking it over
        from tollgate.cli import main as cli_main

        return cli_main(arguments, launch)
