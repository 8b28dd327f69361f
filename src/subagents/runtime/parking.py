"""Parked background tables: a paused run's background children wait for its resume.

A run of an agent with background delegation that ends PAUSED (a breakpoint, an
``interrupt()``) on a checkpointer thread does not cancel its background children: its
:class:`~subagents.runtime.background.BackgroundTable` is parked here, keyed by the run's
:data:`ParkKey`. The next invocation of the same agent on the same thread (a resume with
``Command(resume=...)`` or ``ainvoke(None, config)``) adopts it: the same ids, still running
or with their results. From then on the children belong to the resumed run
(:meth:`~subagents.runtime.scope.RunScope.adopt`): their events reach its listeners, sinks and
stream, their usage nodes move to its usage tree (in full, once), their model calls draw from
its budget. A parked table not adopted within ``BackgroundConfig.park_ttl``
seconds is dropped and its unsettled children are cancelled, so nothing leaks.

A root run that COMPLETES on a checkpointer thread with ``BackgroundConfig(auto_cancel=False)``
keeps its table the same way (``finished``): the thread's next turn adopts it, so ids of
earlier turns keep working there. Such a table is forgotten after ``park_ttl`` seconds (or
when more than 10,000 tables are kept, oldest first), without cancelling its children
(``auto_cancel=False`` lets them run). The ids of every dropped table are recorded
(:func:`subagents.runtime.background.forget`): looking one up later answers
``unknown_id`` naming why.

Limit: this lives in the process's memory. It survives a pause and resume within one
process (``langgraph dev``, one worker), not a process restart nor a resume served by
another worker; work that must outlive the process needs ``BackgroundConfig(deliver=...,
dispatcher=...)``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from subagents.runtime.background import BackgroundTable, forget

__all__ = ["ParkKey", "adopt", "discard", "park", "park_key", "parked_count"]

ParkKey = tuple[str, str, tuple[str, ...]]
"""``(thread_id, checkpoint_ns, agent path)`` of one agent invocation on one thread.

A nested agent's ``checkpoint_ns`` holds its delegation task's id, which LangGraph derives
from the paused checkpoint and so keeps on resume (it finds the child's own checkpoint by
it): parallel calls of the same sub-agent and different threads never share a key.
"""
_MAX_PARKED = 10_000


@dataclass(slots=True, eq=False)
class _Parked:
    table: BackgroundTable
    loop: asyncio.AbstractEventLoop
    timer: asyncio.TimerHandle
    finished: bool = False
    ttl: float = 0.0


_lock = threading.Lock()
_parked: OrderedDict[ParkKey, _Parked] = OrderedDict()


def park_key(config: RunnableConfig | None, path: tuple[str, ...]) -> ParkKey | None:
    """The key of an invocation, or None without a ``configurable.thread_id``.

    Args:
        config: the invocation's config; the ambient (enclosing node's) ``configurable`` is
            merged under it, as LangGraph does, so a nested agent sees its ``checkpoint_ns``.
        path: the agent's ancestry path (``AgentPlan.path``).
    """
    ambient = (var_child_runnable_config.get() or {}).get("configurable", {})
    conf = {**ambient, **(config or {}).get("configurable", {})}
    thread = conf.get("thread_id")
    if thread is None or thread == "":
        return None
    return str(thread), str(conf.get("checkpoint_ns") or ""), path


def park(key: ParkKey, table: BackgroundTable, ttl: float, *, finished: bool = False) -> None:
    """Keep ``table`` for the next invocation with ``key``, for at most ``ttl`` seconds.

    Must run on the event loop of the table's children. A table already parked under the
    same key (never adopted) is dropped; beyond 10,000 parked tables the oldest is dropped.
    A dropped paused run's table has its unsettled children cancelled; a dropped
    ``finished`` one is only forgotten.

    Args:
        key: from :func:`park_key`.
        table: the paused run's (or completed turn's) background table.
        ttl: seconds (> 0) until it is dropped.
        finished: the run completed (``auto_cancel=False``) rather than paused.
    """
    loop = asyncio.get_running_loop()
    entry = _Parked(table, loop, loop.call_later(ttl, _expire, key, table), finished, ttl)
    dropped: list[tuple[_Parked, str]] = []
    with _lock:
        old = _parked.pop(key, None)
        if old is not None:
            dropped.append((old, "superseded"))
        _parked[key] = entry
        while len(_parked) > _MAX_PARKED:
            dropped.append((_parked.popitem(last=False)[1], "evicted"))
    for old, reason in dropped:
        _discard(old, reason)


def discard(thread_id: str) -> int:
    """Drop every table kept for ``thread_id`` (a deleted thread, an operator's cleanup).

    Paused runs' children are cancelled, completed turns' forgotten; their ids then answer
    ``unknown_id`` (reason ``discarded``). Returns how many tables were dropped.
    """
    with _lock:
        keys = [key for key in _parked if key[0] == thread_id]
        entries = [_parked.pop(key) for key in keys]
    for entry in entries:
        _discard(entry, "discarded")
    return len(entries)


def adopt(key: ParkKey | None) -> BackgroundTable | None:
    """Take the table parked under ``key`` (removing it), or None.

    A table parked by another event loop cannot be awaited here: it is dropped (its
    children cancelled) and None is returned.
    """
    if key is None:
        return None
    with _lock:
        entry = _parked.pop(key, None)
    if entry is None:
        return None
    try:
        same_loop = asyncio.get_running_loop() is entry.loop
    except RuntimeError:
        same_loop = False
    if not same_loop:
        _discard(entry, "other_loop")
        return None
    entry.timer.cancel()
    return entry.table


def parked_count(thread_id: str | None = None) -> int:
    """How many tables are parked now, on ``thread_id`` or on all threads (monitoring)."""
    with _lock:
        return sum(1 for key in _parked if thread_id is None or key[0] == thread_id)


_WHY = {
    "expired": "its run's table was kept {ttl:g} s (park_ttl) and expired",
    "evicted": "more than 10,000 tables were kept and its run's was the oldest",
    "superseded": "a new run on its thread replaced its run's kept table",
    "discarded": "its thread's tables were discarded (subagents.runtime.parking.discard)",
    "other_loop": "its run's table was kept on another event loop",
}


def _expire(key: ParkKey, table: BackgroundTable) -> None:
    with _lock:
        entry = _parked.get(key)
        if entry is None or entry.table is not table:
            return
        del _parked[key]
    _discard(entry, "expired")


def _discard(entry: _Parked, reason: str) -> None:
    """Forget a dropped table's ids; a paused run's: cancel its children on their loop."""
    text = _WHY[reason].format(ttl=entry.ttl)
    forget(entry.table, reason, text)
    cancel = f"cancelled: {text}"
    if _on_loop(entry.loop):
        entry.timer.cancel()
        if not entry.finished:
            entry.table.cancel_all(cancel)
        return
    try:
        entry.loop.call_soon_threadsafe(entry.timer.cancel)
        if not entry.finished:
            entry.loop.call_soon_threadsafe(entry.table.cancel_all, cancel)
    except RuntimeError:  # the loop is closed: its tasks are gone with it
        pass


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
