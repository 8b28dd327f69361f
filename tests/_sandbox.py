"""Run a function in a killable child process with a deadline and a memory limit.

A fuzz case that hangs (catastrophic regex backtracking holds the GIL, so a thread cannot be
interrupted) must fail that case, not freeze the suite: the child is killed at the deadline and
a fresh one serves the next case. ``RLIMIT_AS`` caps the child's address space, so a case that
exhausts memory fails with ``MemoryError`` instead of taking the machine down.

One child serves many cases (spawned once: importing LangGraph takes a while), so the cases run
one after another; calls are ``(module, function, args)`` so nothing needs pickling by value.
"""

from __future__ import annotations

import importlib
import multiprocessing
import resource
from multiprocessing.connection import Connection
from typing import Any

DEADLINE = 60.0
"""Seconds one case may take. Generous: the machine is shared, and a hang is a hang."""
MEMORY = 2 << 30
"""Bytes of address space the child may map (its imports take a few hundred MB)."""


class CaseTimeout(AssertionError):
    """The case did not finish before the deadline (the child was killed)."""


class CaseCrashed(AssertionError):
    """The case raised in the child (``MemoryError`` included) or the child died."""


def _serve(conn: Connection, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    importlib.import_module("subagents.tools")
    while True:
        try:
            module, name, args = conn.recv()
        except EOFError:
            return
        try:
            result = getattr(importlib.import_module(module), name)(*args)
        except BaseException as exc:  # the parent reports it as the case's failure
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))
        else:
            conn.send(("ok", result))


class Sandbox:
    """A child process running one call at a time, killed and replaced after a timeout."""

    def __init__(self, deadline: float = DEADLINE, memory: int = MEMORY) -> None:
        self.deadline = deadline
        self.memory = memory
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(child, self.memory), daemon=True)
        self.proc.start()
        child.close()

    def run(self, module: str, name: str, *args: Any) -> Any:
        """``module.name(*args)`` in the child; its return value.

        Raises:
            CaseTimeout: no answer within ``deadline`` seconds (the child is replaced).
            CaseCrashed: the call raised (message included) or the child died.

        """
        self.conn.send((module, name, args))
        if not self.conn.poll(self.deadline):
            self.close()
            self._start()
            raise CaseTimeout(f"{module}.{name}{_short(args)} took over {self.deadline} s")
        try:
            status, value = self.conn.recv()
        except EOFError as exc:
            self.close()
            self._start()
            raise CaseCrashed(f"{module}.{name}{_short(args)}: the child died") from exc
        if status == "error":
            raise CaseCrashed(f"{module}.{name}{_short(args)}: {value}")
        return value

    def close(self) -> None:
        """Kill the child and wait for it."""
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def _short(args: tuple[Any, ...]) -> str:
    text = repr(args)
    return text if len(text) < 300 else text[:300] + "...)"
