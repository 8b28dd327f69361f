"""Load a team file in the sandbox child (``_sandbox.Sandbox``) and say how it ended.

A case that hangs or eats memory ends as an ``Outcome`` the test asserts on (status
``timeout`` / ``crash``), never as a frozen or killed test run: the same killable child, with
its deadline and address-space limit, that the file-tool fuzz cases run in.
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path

from _sandbox import CaseCrashed, CaseTimeout, Sandbox

__all__ = ["CASE_SECONDS", "Outcome", "hog", "load_in_sandbox", "run_case", "spin"]

CASE_SECONDS = 20.0
"""Deadline of one case in seconds (a case takes milliseconds, a 1 MiB file about a second
on a loaded machine; this only stops a hang)."""

_box: Sandbox | None = None


@dataclass(frozen=True)
class Outcome:
    """How one load ended.

    Attributes:
        status: ``ok`` (a team), ``error`` (a ``TeamFileError``), ``crash`` (any other
            exception, MemoryError included, or the child died) or ``timeout``.
        detail: the root agent's name, the error message or the failure.
        file: ``TeamFileError.file`` (``error`` only).
        line: ``TeamFileError.line`` (``error`` only).
    """

    status: str
    detail: str
    file: str | None = None
    line: int | None = None


def load(path: str, trusted: bool) -> tuple[str, str, str | None, int | None]:
    """In the child: ``load_team`` as an ``Outcome``'s fields (a ``TeamFileError`` is data)."""
    from subagents.errors import TeamFileError
    from subagents.teams import load_team

    try:
        return "ok", load_team(path, trusted=trusted).name, None, None
    except TeamFileError as exc:
        return "error", str(exc), exc.file, exc.line


def spin() -> str:
    """Never returns (the harness's own test: a hang must end as ``timeout``)."""
    while True:
        pass


def hog() -> str:
    """Allocates without bound (the harness's own test: ends as ``crash`` MemoryError)."""
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def _stop() -> None:
    if _box is not None:
        _box.close()


atexit.register(_stop)


def run_case(name: str, *args: object, seconds: float = CASE_SECONDS) -> Outcome:
    """``name(*args)`` (a function of this module) in the sandbox child, as an ``Outcome``."""
    global _box
    if _box is None:
        _box = Sandbox()
    _box.deadline = seconds
    try:
        value = _box.run(__name__, name, *args)
    except CaseTimeout as exc:
        return Outcome("timeout", str(exc))
    except CaseCrashed as exc:
        return Outcome("crash", str(exc))
    return Outcome(*value) if isinstance(value, tuple) else Outcome("ok", str(value))


def load_in_sandbox(path: Path, *, trusted: bool = True) -> Outcome:
    """``load_team(path, trusted=...)`` in the sandbox child within its limits."""
    return run_case("load", str(path), trusted)
