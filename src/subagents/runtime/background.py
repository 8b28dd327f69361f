"""Background sub-agents: an id now, the result later.

A background ``task`` call returns ``{"status": "running", "id": ...}`` at once while the
child runs as an asyncio task owned by the calling agent's run. The lifecycle tools read a
:class:`BackgroundTable`: ``agent_status`` (non-blocking), ``agent_cancel`` and
``agent_await(ids, mode)`` whose modes are JavaScript's Promise combinators:

- ``all``: wait for all; fail fast at the first failure.
- ``allSettled``: wait for all; every result and error.
- ``any``: first success; fails only when all failed, listing every error.
- ``race``: first to settle, success or failure.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol

from langgraph.errors import GraphInterrupt
from typing_extensions import TypeVar

from subagents.results import Ending, Status
from subagents.runtime.call import CallInfo
from subagents.runtime.jobs import BackgroundJob, await_verdict, decisive_settle
from subagents.runtime.records import JobRecord, background_thread_id
from subagents.runtime.usage import UsageNode
from subagents.spec.background import AwaitMode, BackgroundConfig

__all__ = ["BackgroundJob", "BackgroundTable", "JobRecord", "MissingId", "background_thread_id",
           "forget", "gone"]


class _Home(Protocol):
    """What a table reads of its ``home`` (a ``RunScope``; the scope module imports this one)."""

    @property
    def usage(self) -> UsageNode: ...

    def child(self, call: CallInfo) -> Any: ...


_HomeT = TypeVar("_HomeT", bound=_Home, default=Any)
"""The type of a table's ``home``: a ``RunScope`` (the scope module imports this one)."""
_ids = itertools.count(1)
_settle_order = itertools.count(1)
_owners: OrderedDict[str, str] = OrderedDict()
"""Recent background ids -> owning run (bounded), to tell "another run's id" from unknown."""
_MAX_OWNERS = 100_000
_gone: OrderedDict[str, tuple[str, str]] = OrderedDict()
"""Ids of kept tables that were dropped -> (reason, text), bounded like ``_owners``."""


@dataclass(frozen=True, slots=True)
class MissingId:
    """A background id a run cannot use, and why (the typed answer of a failed lookup).

    Attributes:
        id: the id asked for.
        status: ``unknown_id`` for an id that is gone (its kept table was dropped), else
            ``failed`` (an id of another run, or never issued).
        reason: ``expired``, ``evicted``, ``superseded`` or ``discarded`` (gone), or
            ``another_run`` or ``unknown``.
        error: the text the parent model reads.
    """

    id: str
    status: str
    reason: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the parent model reads."""
        return {"id": self.id, "status": self.status, "reason": self.reason,
                "error": self.error}


def gone(job_id: str) -> bool:
    """Whether this process dropped the kept table of ``job_id`` (it answers ``unknown_id``)."""
    return job_id in _gone


def _next_id() -> int:
    """The number the next ``bg_<n>`` id would get (without taking it)."""
    global _ids
    number = next(_ids)
    _ids = itertools.count(number)
    return number


def forget(table: BackgroundTable, reason: str, text: str) -> None:
    """Record that the ids of ``table`` are gone: later lookups answer ``unknown_id``.

    Args:
        table: a kept (parked) table that is dropped.
        reason: a short code (``expired``, ``evicted``, ``superseded``, ``discarded``).
        text: why, for the parent model.
    """
    for job_id in table.jobs:
        _gone[job_id] = (reason, text)
        _gone.move_to_end(job_id)
    while len(_gone) > _MAX_OWNERS:
        _gone.popitem(last=False)






class _FifoGate:
    """A counting gate that admits waiters strictly in arrival order."""

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut in self.waiters:
                self.waiters.remove(fut)
            elif fut.done() and not fut.cancelled():
                self.release()
            raise

    def release(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class BackgroundTable(Generic[_HomeT]):
    """The background children of one agent invocation (not thread-safe: one event loop).

    Generic in the type of its ``home`` (``BackgroundTable[RunScope]``), which this module
    does not need to know.
    """

    def __init__(self, config: BackgroundConfig, owner: str) -> None:
        self.config, self.owner = config, owner
        self.jobs: dict[str, BackgroundJob] = {}
        self.mail = 0
        """Messages sent to running children and not yet taken by their model calls."""
        self._by_call: dict[int, BackgroundJob] = {}
        self.home: _HomeT | None = None
        """The ``RunScope`` whose run owns the table now (the adopting run's after a resume):
        children report their events, usage and budget there, looked up when they do."""
        self._gate = _FifoGate(config.max_concurrent) if config.max_concurrent else None

    def spawn(self, agent: str, tool_call_id: str,
              run: Callable[[], Awaitable[Ending]],
              link: CallInfo | None = None, *, thread_id: str | None = None,
              job_id: str | None = None) -> BackgroundJob:
        """Start ``run()`` as a background child and return its job at once.

        Args:
            agent: the child's name.
            tool_call_id: the call that started it.
            run: the child's run, to its ``Ending``.
            link: the delegation's record of the child.
            thread_id: the child's own checkpoint thread, when it has one (persisted).
            job_id: the id of a re-attached child (its parent's checkpoint kept it);
                None: a new ``bg_<n>``.
        """
        job = BackgroundJob(id=job_id or f"bg_{next(_ids)}", agent=agent,
                            tool_call_id=tool_call_id, link=link, thread_id=thread_id,
                            objective=link.objective if link is not None else "")
        job.task = asyncio.get_running_loop().create_task(self._run(job, run))
        self._add(job)
        if link is not None:
            self._by_call[id(link)] = job
        return job

    def message(self, job_id: str, text: str) -> dict[str, Any]:
        """Queue ``text`` for a running child's next model call (``agent_message``).

        Returns:
            ``{"id", "agent", "status": "sent", "message_id"}``; for an id that cannot take
            it a typed refusal: the lookup's (``failed`` / ``unknown_id`` with ``reason``), or
            ``failed`` with ``reason`` the child's status when it has ended or is cancelled.
        """
        job = self.lookup(job_id)
        if isinstance(job, MissingId):
            return job.as_dict()
        ended = job.status.value if job.settled else (
            Status.CANCELLED.value if job.task is not None and job.task.cancelling() else None)
        if ended is not None or job.link is None:
            return {"id": job.id, "status": "failed", "reason": ended or "unknown",
                    "error": f"background sub-agent {job.id} ({job.agent}) has ended "
                    f"({ended}): a message reaches only a running one"}
        message_id = f"msg-{job.tool_call_id}-{len(job.messages) + 1}"
        job.messages.append((message_id, text))
        self.mail += 1
        return {"id": job.id, "agent": job.agent, "status": "sent", "message_id": message_id}

    def resend(self, job: BackgroundJob, messages: Any) -> None:
        """Give a re-attached child every message its record lists, all unread.

        Its model call skips those its own history already holds (same message ids).
        """
        if isinstance(messages, list):
            job.messages = [(str(m[0]), str(m[1])) for m in messages
                            if isinstance(m, list | tuple) and len(m) == 2]
            self.mail += len(job.messages)

    def take_messages(self, call: CallInfo) -> list[tuple[str, str]]:
        """The messages sent to the child of ``call`` since its last model call (taken)."""
        job = self._by_call.get(id(call))
        if job is None or job.read == len(job.messages):
            return []
        unread = job.messages[job.read:]
        job.read = len(job.messages)
        self.mail -= len(unread)
        return unread

    def settled_job(self, record: JobRecord) -> BackgroundJob:
        """Add a child that had ended before a restart, from its parent's checkpoint."""
        job = BackgroundJob(id=record.id, agent=record.agent, tool_call_id=record.tool_call_id,
                            status=Status(record.status), result=record.result,
                            error=record.error, objective=record.objective,
                            thread_id=record.thread_id, order=next(_settle_order))
        self._add(job)
        return job

    def _add(self, job: BackgroundJob) -> None:
        global _ids
        self.jobs[job.id] = job
        _owners[job.id] = self.owner
        while len(_owners) > _MAX_OWNERS:
            _owners.popitem(last=False)
        number = job.id.removeprefix("bg_")
        if number.isdigit() and int(number) >= _next_id():  # a re-attached id: never reissued
            _ids = itertools.count(int(number) + 1)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every persisted child's record (those on their own thread), by id."""
        return {job.id: job.record() for job in self.jobs.values() if job.thread_id}

    async def _run(self, job: BackgroundJob, run: Callable[[], Awaitable[Ending]]) -> None:
        try:
            if self._gate is not None:
                job.queued = True
                await self._gate.acquire()
                job.queued = False
            try:
                ended = await asyncio.wait_for(run(), timeout=self.config.timeout)
                job.status, job.result, job.error = ended.status, ended.result, ended.error
            finally:
                if self._gate is not None:
                    self._gate.release()
        except TimeoutError:
            job.status, job.error = Status.TIMEOUT, f"still running after {self.config.timeout} s"
        except asyncio.CancelledError:
            job.status, job.error = Status.CANCELLED, job.error or "cancelled"
            self._unstarted(job)
        except GraphInterrupt:
            job.status, job.error = Status.FAILED, (
                "the background sub-agent asked for a human (interrupt()): interrupts reach "
                "the user from sync delegations only; delegate this task without background")
        except Exception as exc:  # the runner catches child errors; this is a last guard
            job.status, job.error = Status.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.order = next(_settle_order)

    def _unstarted(self, job: BackgroundJob) -> None:
        """Give a child cancelled before its first step (no scope yet) its usage node.

        A child on its own checkpoint thread reads that thread before its graph opens its
        scope: cancelled in between, it would be missing from its parent's usage tree.
        """
        home, call = self.home, job.link
        if home is None or call is None or home.child(call) is not None:
            return
        usage = home.usage
        usage.add_child(UsageNode.of_call(job.agent, (*usage.path, job.agent), call,
                                          status=Status.CANCELLED.value, ended=time.monotonic()))

    def lookup(self, job_id: str) -> BackgroundJob | MissingId:
        """The job, or why the id cannot be used (gone, another agent's run, unknown)."""
        if job_id in self.jobs:
            return self.jobs[job_id]
        if job_id in _gone:
            reason, text = _gone[job_id]
            return MissingId(job_id, "unknown_id", reason, f"id {job_id!r} is gone: {text}")
        if job_id in _owners:
            return MissingId(job_id, "failed", "another_run", (
                f"id {job_id!r} belongs to another agent's run (or to an earlier run of "
                "yours whose children were cancelled); only ids of this run, of the paused "
                "run it resumes and of earlier turns of its thread (auto_cancel=False) work"))
        known = ", ".join(self.jobs) or "(none)"
        return MissingId(job_id, "failed", "unknown",
                         f"unknown id {job_id!r}; your background ids: {known}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel one child; settled children are reported as they are."""
        job = self.lookup(job_id)
        if isinstance(job, MissingId):
            return job.as_dict()
        if not job.settled and job.task is not None:
            job.task.cancel()
            job.error = "cancelled by agent_cancel"
        return {"id": job.id, "status": "cancelled" if not job.settled else job.status.value,
                "cancelled": not job.settled}

    async def wait(self, ids: Iterable[str], mode: AwaitMode) -> dict[str, Any]:
        """Wait for children by mode (see the module docstring); returns the await result."""
        jobs: list[BackgroundJob] = []
        for job_id in dict.fromkeys(ids):
            job = self.lookup(job_id)
            if isinstance(job, MissingId):
                return {**job.as_dict(), "mode": mode, "results": []}
            jobs.append(job)
        if not jobs:
            return {"status": "failed", "mode": mode, "error": "no ids given", "results": []}
        while (verdict := await_verdict(jobs, mode)) is None:
            await decisive_settle(jobs, mode)
        return verdict

    def cancel_all(self, reason: str = "cancelled") -> list[asyncio.Task[None]]:
        """Cancel every unsettled child (``reason`` becomes its error); returns their tasks."""
        tasks = []
        for job in self.jobs.values():
            if not job.settled and job.task is not None:
                job.task.cancel()
                job.error = job.error or reason
                tasks.append(job.task)
        return tasks

    async def close(self) -> None:
        """End of the owning run: cancel unsettled children when ``auto_cancel`` and wait."""
        if not self.config.auto_cancel:
            return
        tasks = self.cancel_all()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
