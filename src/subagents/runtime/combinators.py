"""``agent_await``'s modes as JavaScript's Promise combinators, over background jobs.

- ``all``: wait for all; fail fast at the first failure.
- ``allSettled``: wait for all; every result and error.
- ``any``: first success; fails only when all failed, listing every error.
- ``race``: first to settle, success or failure.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from subagents.spec.background import AwaitMode

if TYPE_CHECKING:  # a type only: the background module imports this one
    from subagents.runtime.background import BackgroundJob

__all__ = ["await_verdict", "decisive_settle"]


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
