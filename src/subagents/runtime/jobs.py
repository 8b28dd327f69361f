"""One background job (``BackgroundJob``) and ``agent_await``'s modes over jobs.

The modes are JavaScript's Promise combinators:


- ``all``: wait for all; fail fast at the first failure.
- ``allSettled``: wait for all; every result and error.
- ``any``: first success; fails only when all failed, listing every error.
- ``race``: first to settle, success or failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from subagents.results import Status
from subagents.runtime.call import CallInfo
from subagents.spec.background import AwaitMode

__all__ = ["BackgroundJob", "await_verdict", "decisive_settle"]


@dataclass(slots=True, eq=False)
class BackgroundJob:
    """One background child.

    Attributes:
        id: the id the parent model uses (``bg_<n>``).
        agent: the child's name.
        tool_call_id: the call that started it.
        status: ``running`` until it settles.
        queued: waiting for a ``max_concurrent`` slot.
        link: the delegation's record of the child (a ``CallInfo``): a run that adopts the
            table re-attaches the child's scope through it.
    """

    id: str
    agent: str
    tool_call_id: str
    status: Status = Status.RUNNING
    result: Any = None
    error: str | None = None
    queued: bool = False
    order: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    link: CallInfo | None = field(default=None, repr=False)
    objective: str = ""
    thread_id: str | None = None
    """The child's own checkpoint thread (None: it runs in its parent's, not persisted)."""
    messages: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """Every ``agent_message`` sent to it: ``(message id, text)``, in order."""
    read: int = 0
    """How many of ``messages`` its model calls took so far."""

    @property
    def settled(self) -> bool:
        """Whether it has ended (any status but running)."""
        if self.status is Status.RUNNING and self.task is not None and self.task.done():
            # cancelled before its first step: the runner never got to record it
            self.status, self.error = Status.CANCELLED, self.error or "cancelled"
        return self.status is not Status.RUNNING

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the parent model reads."""
        out: dict[str, Any] = {"id": self.id, "agent": self.agent, "status": self.status.value,
                               "result": self.result, "error": self.error}
        if self.queued:
            out["queued"] = True
        if self.link is not None and self.link.retried:  # the child has an Agent.retry policy
            out["attempts"], out["errors"] = self.link.attempt, list(self.link.errors)
        return out

    def record(self) -> dict[str, Any]:
        """The job as its parent's checkpoint keeps it (``JobRecord``'s fields)."""
        settled = self.settled
        status = self.status.value
        if not settled and self.task is not None and self.task.cancelling():
            status = Status.CANCELLED.value  # agent_cancel asked: it never resumes
        return {"id": self.id, "agent": self.agent, "tool_call_id": self.tool_call_id,
                "objective": self.objective, "thread_id": self.thread_id,
                "status": status, "result": self.result if settled else None,
                "error": self.error if settled or status != self.status.value else None,
                "messages": [list(m) for m in self.messages]}


async def decisive_settle(jobs: list[BackgroundJob], mode: AwaitMode) -> None:
    """Sleep until a child settles in a way that can decide ``mode``.

    O(1) per settling child (``asyncio.wait(FIRST_COMPLETED)`` in a loop re-registers a
    callback on every running child at each wake-up, and ``_verdict`` rereads every job:
    quadratic for children that settle one at a time).
    """
    running = {j.task: j for j in jobs if not j.settled and j.task is not None}
    if not running:
        return
    wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    left = len(running)

    def settled(task: asyncio.Task[None]) -> None:
        nonlocal left
        left -= 1
        job = running[task]
        ok = job.settled and job.status.ok
        if not wake.done() and (left == 0 or mode == "race" or (mode == "all" and not ok)
                                or (mode == "any" and ok)):
            wake.set_result(None)

    for task in running:
        task.add_done_callback(settled)
    try:
        await wake
    finally:
        for task in running:
            task.remove_done_callback(settled)


def await_verdict(jobs: list[BackgroundJob], mode: AwaitMode) -> dict[str, Any] | None:
    """The await result if ``mode`` is decided by the jobs' current states, else None."""
    settled = sorted((j for j in jobs if j.settled), key=lambda j: j.order)
    failed = [j for j in settled if not j.status.ok]
    results = [j.as_dict() for j in jobs]
    if mode == "race" and settled:
        first = settled[0]
        return _done(mode, first.status.ok, [first.as_dict()], first.error)
    if mode == "any":
        ok = next((j for j in settled if j.status.ok), None)
        if ok is not None:
            return _done(mode, True, [ok.as_dict()], None)
        if len(failed) == len(jobs):
            errors = "; ".join(f"{j.id} ({j.agent}): {j.status.value}: {j.error}" for j in failed)
            return _done(mode, False, results, f"all {len(jobs)} failed: {errors}")
        return None
    if mode == "all" and failed:
        first = failed[0]
        return _done(mode, False, results, f"{first.id} ({first.agent}) {first.status.value}: "
                     f"{first.error}")
    if mode in ("all", "allSettled") and len(settled) == len(jobs):
        return _done(mode, True, results, None)
    return None


def _done(mode: str, ok: bool, results: list[dict[str, Any]], error: str | None) -> dict[str, Any]:
    return {"status": "completed" if ok else "failed", "mode": mode, "results": results,
            "error": error}
