"""Load a team file in a child process with a deadline and an address-space limit.

A case that hangs or eats memory ends as an ``Outcome`` the test asserts on (status
``timeout`` / ``crash``), never as a frozen or killed test run. Children fork from a
``forkserver`` that imported ``subagents.teams`` once, so a case costs a fork, not an import.
"""

from __future__ import annotations

import multiprocessing
import resource
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from subagents.errors import TeamFileError
from subagents.teams import load_team

__all__ = ["CASE_MEMORY", "CASE_SECONDS", "Outcome", "hog", "load_in_sandbox", "run_case",
           "spin"]

CASE_SECONDS = 60.0
"""Deadline of one case in seconds (a case takes milliseconds; this only stops a hang)."""
CASE_MEMORY = 512 * 1024 * 1024
"""Address space a case may add to the forked child's, in bytes (RLIMIT_AS)."""

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["subagents.teams", "_sandbox"])


@dataclass(frozen=True)
class Outcome:
    """How one load ended.

    Attributes:
        status: ``ok`` (a team), ``error`` (a ``TeamFileError``), ``crash`` (any other
            exception, MemoryError included, or the child died) or ``timeout``.
        detail: the root agent's name, the error message or the traceback.
        file: ``TeamFileError.file`` (``error`` only).
        line: ``TeamFileError.line`` (``error`` only).
    """

    status: str
    detail: str
    file: str | None = None
    line: int | None = None


def _vm_bytes() -> int:
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmSize:"):
            return int(row.split()[1]) * 1024
    return 0


def _load(path: str, trusted: bool) -> str:
    return load_team(path, trusted=trusted).name


def spin() -> str:
    """Never returns (the harness's own test: a hang must end as ``timeout``)."""
    while True:
        pass


def hog() -> str:
    """Allocates without bound (the harness's own test: ends as ``crash`` MemoryError)."""
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def _case(conn: Connection, func: Callable[..., str], args: tuple[Any, ...]) -> None:
    limit = _vm_bytes() + CASE_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        conn.send(Outcome("ok", func(*args)))
    except TeamFileError as exc:
        conn.send(Outcome("error", str(exc), exc.file, exc.line))
    except BaseException:
        conn.send(Outcome("crash", traceback.format_exc()))
    finally:
        conn.close()


def load_in_sandbox(path: Path, *, trusted: bool = True) -> Outcome:
    """``load_team(path, trusted=...)`` in a forked child within the limits."""
    return run_case(_load, str(path), trusted)


def run_case(func: Callable[..., str], *args: Any, seconds: float = CASE_SECONDS) -> Outcome:
    """``func(*args)`` (a module-level function) in a forked child within the limits."""
    receiver, sender = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_case, args=(sender, func, args), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            return Outcome("timeout", f"no result within {seconds} s")
        try:
            outcome: Outcome = receiver.recv()
        except EOFError:
            proc.join(CASE_SECONDS)
            return Outcome("crash", f"the child died (exit code {proc.exitcode})")
        return outcome
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join(CASE_SECONDS)
