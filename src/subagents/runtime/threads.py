"""Work handed to a daemon thread, for a sync run that must stop waiting on it.

A sync run cannot cancel what it calls: where it must stop waiting (a tool's timeout, a
child's ``Agent.timeout``, a budget's ``max_seconds`` deadline) the work runs in a daemon
thread, with the caller's ``contextvars`` context copied (LangGraph's config and stream
writer, LangChain's callbacks), and the caller waits on its ``Future``. Work left behind past
its time runs on in its thread, its result or exception dropped; a daemon thread never keeps
the process from exiting.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["in_daemon_thread"]


def in_daemon_thread(fn: Callable[[], Any], name: str) -> Future[Any]:
    """Start ``fn()`` in a new daemon thread called ``name``, in a copy of this context.

    Args:
        fn: the work (no arguments).
        name: the thread's name (shown in thread dumps: ``subagents-tool-<tool>``).

    Returns:
        The future of ``fn()``: its return value, or any ``BaseException`` it raised
        (``KeyboardInterrupt``, ``SystemExit`` and LangGraph's ``GraphBubbleUp`` included).
        Cancelling it before the thread starts skips ``fn``.
    """
    future: Future[Any] = Future()
    context = contextvars.copy_context()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(fn))
        except BaseException as exc:  # carried to whoever waits, or dropped after its time
            future.set_exception(exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future
