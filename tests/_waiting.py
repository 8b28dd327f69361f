"""Waiting in tests without ``sleep``: on an event, on a condition, or (another process) a poll.

- ``Changes``: code on the event loop calls ``notify()`` after it changed something a test
  waits for; the test awaits ``until(predicate)``, which re-checks the predicate at each
  notification (no polling) and fails with ``what`` after ``timeout`` seconds.
- ``wait_event``: ``asyncio.Event.wait`` that fails the test (not hangs it) after ``timeout``.
- ``poll_until``: for a condition only another process can change (a server, a forked
  worker) and nothing notifies: re-check every ``interval`` seconds until ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

__all__ = ["Changes", "poll_until", "wait_event"]


class Changes:
    """Wake waiters on the event loop when something changed; they re-check their predicate."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Call on the event loop's thread after a change a waiter may be waiting for."""
        self._changed.set()

    async def until(self, predicate: Callable[[], bool], *, timeout: float = 10.0,
                    what: str = "the condition") -> None:
        """Return once ``predicate()`` is true; fail the test after ``timeout`` seconds.

        Raises:
            AssertionError: ``predicate`` still false after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._changed.clear()
                    if predicate():
                        return
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{what} did not happen within {timeout} s") from None


async def wait_event(event: asyncio.Event, *, timeout: float = 10.0,
                     what: str = "the event") -> None:
    """Wait for ``event``; fail the test after ``timeout`` seconds.

    Raises:
        AssertionError: ``event`` not set within ``timeout`` seconds.
    """
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout} s") from None


async def poll_until(check: Callable[[], Awaitable[bool]], *, timeout: float,
                     what: str, interval: float = 0.1) -> None:
    """Re-check ``check()`` (a condition in another process) every ``interval`` s.

    Only for conditions no code in this process can signal (a server's run status, a
    forked worker's database row); the wait between checks is a poll interval, never the
    synchronisation itself: the test goes on as soon as the condition holds.

    Raises:
        AssertionError: ``check`` still false after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    idle = asyncio.Event()  # never set: waiting on it is the poll interval
    while not await check():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle.wait(), min(interval, left))
