"""Kill points for crash tests: a per-process kill switch and call log, and a logged tool.

A forked run sets ``World.kill_at`` (the n-th point SIGKILLs the process; 0: never) and
``World.log`` (a file the run appends one JSON line to per point), then every model call and
tool call of the scripted run passes ``World.point``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import tool

__all__ = ["World", "fork_run", "inspect_file", "read_log"]


class World:
    """Per-process kill switch and call log (set up in the forked child)."""

    kill_at = 0
    count = 0
    log: Any = None

    @classmethod
    def point(cls, what: dict[str, Any]) -> None:
        """Count a point; the ``kill_at``-th SIGKILLs this process, others are logged."""
        cls.count += 1
        if cls.kill_at and cls.count == cls.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        cls.log.write(json.dumps(what) + "\n")
        cls.log.flush()


@tool
def inspect_file(name: str) -> str:
    """Inspect one file."""
    World.point({"kind": "tool", "name": name})
    return f"{name} looks fine"


def fork_run(target: Callable[..., None], args: tuple[Any, ...],
             out: Path) -> tuple[int, str | None]:
    """Run ``target(*args)`` in a forked process (60 s at most): (exit code, ``out``'s text)."""
    proc = multiprocessing.get_context("fork").Process(target=target, args=args)
    proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "worker hung"
    return proc.exitcode, out.read_text() if out.exists() else None


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines ``World.point`` wrote to ``path`` (none when it does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
