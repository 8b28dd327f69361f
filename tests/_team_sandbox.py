"""Load a team file in a child process with a deadline and an address-space limit.

A case that hangs or eats memory ends as an ``Outcome`` the test asserts on (status
``timeout`` / ``crash``), never as a frozen or killed test run. A worker process imports
``subagents.teams`` once and forks one child per case (the worker is single-threaded, so
forking it is safe); the child sets ``RLIMIT_AS`` and sends its ``Outcome`` back. On a
timeout the worker and its child are killed and the next case starts a new worker.
"""

from __future__ import annotations

import atexit
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subagents.errors import TeamFileError
from subagents.teams import load_team

__all__ = ["CASE_MEMORY", "CASE_SECONDS", "Outcome", "hog", "load_in_sandbox", "run_case",
           "spin"]

CASE_SECONDS = 20.0
"""Deadline of one case in seconds (a case takes milliseconds, a 1 MiB file about a second
on a loaded machine; this only stops a hang)."""
CASE_MEMORY = 512 * 1024 * 1024
"""Address space a case may add to the forked child's, in bytes (RLIMIT_AS)."""

_worker: subprocess.Popen[bytes] | None = None


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


def _run(func: Callable[..., str], args: tuple[Any, ...]) -> Outcome:
    limit = _vm_bytes() + CASE_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        return Outcome("ok", func(*args))
    except TeamFileError as exc:
        return Outcome("error", str(exc), exc.file, exc.line)
    except BaseException:
        return Outcome("crash", traceback.format_exc())


def _serve() -> None:
    """The worker: for each pickled ``(func, args)`` on stdin, fork, run, answer on stdout."""
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            func, args = pickle.load(requests)
        except EOFError:
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(_run(func, args), out)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as inp:
            data = inp.read()
        _, status = os.waitpid(pid, 0)
        outcome = (pickle.loads(data) if data
                   else Outcome("crash", f"the child died (wait status {status})"))
        pickle.dump(outcome, answers)
        answers.flush()


def _stop() -> None:
    global _worker
    if _worker is not None:
        os.killpg(_worker.pid, signal.SIGKILL)
        _worker.wait()
        _worker = None


def _started() -> subprocess.Popen[bytes]:
    global _worker
    if _worker is None or _worker.poll() is not None:
        path = os.pathsep.join(p for p in sys.path if p)
        _worker = subprocess.Popen(
            [sys.executable, "-c", "import _team_sandbox; _team_sandbox._serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "PYTHONPATH": path})
    return _worker


atexit.register(_stop)


def load_in_sandbox(path: Path, *, trusted: bool = True) -> Outcome:
    """``load_team(path, trusted=...)`` in a forked child within the limits."""
    return run_case(_load, str(path), trusted)


def run_case(func: Callable[..., str], *args: Any, seconds: float = CASE_SECONDS) -> Outcome:
    """``func(*args)`` (a module-level function of this module) in a child within the limits.

    ``seconds`` counts from the request; the first call also waits for the worker's imports.
    """
    worker = _started()
    assert worker.stdin is not None and worker.stdout is not None
    pickle.dump((func, args), worker.stdin)
    worker.stdin.flush()
    ready, _, _ = select.select([worker.stdout], [], [], seconds)
    if not ready:
        _stop()
        return Outcome("timeout", f"no result within {seconds} s")
    try:
        outcome: Outcome = pickle.load(worker.stdout)
    except EOFError:
        _stop()
        return Outcome("crash", "the worker died")
    return outcome
