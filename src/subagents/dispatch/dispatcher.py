"""``Dispatcher``: durable fire-and-forget, delayed and cron delegations, in process.

Jobs and the children's checkpoints live in one SQLite file. A worker loop claims due jobs,
runs each sub-agent on its own checkpoint thread (``job-<id>``, durability ``sync``), stores
the result, then delivers it. After a crash or restart, ``start()`` finishes what was left:
running jobs resume from their checkpoints (a finished child is read, not re-run), done jobs
are delivered. Nothing is lost; delivery is at-least-once with an idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
from croniter import croniter
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from subagents.checkpoints.sqlite import async_sqlite_saver
from subagents.dispatch.delivery import DeliveryError, deliver
from subagents.dispatch.store import Job, JobStore
from subagents.errors import SpecError
from subagents.graphs.compile import compile_agent
from subagents.nodes.ending import read_ending
from subagents.nodes.retry import Attempt, RunChild, attempts, single, timed_out
from subagents.results import Ending, Status
from subagents.runtime.call import CallInfo
from subagents.runtime.steps import Both, Invoke, Step, adrive
from subagents.spec import Agent
from subagents.spec.delivery import Delivery, parse_delivery

__all__ = ["Dispatcher"]


class Dispatcher:
    """Run sub-agents detached from any parent run, durably (see module docstring).

    Args:
        path: the SQLite file for jobs and the children's checkpoints.
        agents: the agents jobs may name (by ``Agent.name``).
        model: model for agents that name none (see ``compile_agent``).
        handlers: completion handlers by name, for ``Handler(name)`` deliveries; a handler
            receives the delivered payload ``{"job_id", "agent", "status", "result",
            "error", "origin"}`` (``origin``: see ``submit``), as a webhook does.
        poll_interval: seconds between looks for due jobs.

    Example:
        >>> async with Dispatcher("jobs.sqlite", [researcher]) as d:
        ...     job = await d.submit("researcher", "Summarise X", deliver=Webhook(url=...))
        ...     await d.wait(job)
    """

    def __init__(self, path: str | Path, agents: Iterable[Agent], *,
                 model: BaseChatModel | str | None = None,
                 handlers: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None,
                 poll_interval: float = 0.1) -> None:
        self.path, self.model, self.poll_interval = Path(path), model, poll_interval
        self.agents = {a.name: a for a in agents}
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = dict(handlers or {})
        self._graphs: dict[str, Any] = {}
        self._stack = contextlib.AsyncExitStack()
        self._store: JobStore | None = None
        self._saver: Any = None
        self._worker: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def on(self, name: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Register a completion handler for ``Handler(name)`` deliveries."""
        self.handlers[name] = handler

    async def start(self) -> None:
        """Open the store, finish what a previous process left, start the worker loop."""
        self._saver = await self._stack.enter_async_context(async_sqlite_saver(self.path))
        conn = await self._stack.enter_async_context(aiosqlite.connect(self.path))
        await conn.execute("PRAGMA busy_timeout=30000")
        self._store = JobStore(conn)
        await self._store.setup()
        for job in await self._store.select("status = 'running'"):
            self._launch(job)
        self._worker = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the worker; running jobs stay ``running`` and resume at the next start."""
        tasks = [t for t in (self._worker, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        await self._stack.aclose()

    async def submit(self, agent: str, objective: str, *, deliver: Delivery | None = None,
                     at: datetime | float | None = None, delay: float | None = None,
                     cron: str | None = None, job_id: str | None = None,
                     origin: Mapping[str, Any] | None = None) -> str:
        """Store a job and return its id (submitting the same ``job_id`` twice is a no-op).

        Args:
            agent: name of a registered agent.
            objective: the self-contained task message.
            deliver: where the result goes (``Webhook`` or ``Handler``); None: kept only.
            at: when to run (a datetime or epoch seconds).
            delay: seconds from now (when ``at`` is not given).
            job_id: an id of your own (submitting it again is a no-op).
            cron: a cron expression (croniter syntax): run at every occurrence, each as its
                own job ``<id>@<epoch>``.
            origin: JSON data delivered with the result as ``origin`` so a handler can route
                it; a background delegation sets ``{"thread_id", "run_id", "tool_call_id",
                "path"}`` of the run that asked (``run_id``: the run's
                ``configurable["run_id"]`` when its caller sets one, else the id of the
                parent agent's invocation, the owner of its background ids).

        Raises:
            SpecError: unknown agent, or an invalid cron expression.
        """
        if agent not in self.agents:
            raise SpecError(f"unknown agent {agent!r}; registered: {sorted(self.agents)}")
        if cron is not None and not croniter.is_valid(cron):
            raise SpecError(f"invalid cron expression {cron!r}")
        when = at.timestamp() if isinstance(at, datetime) else at
        when = when if when is not None else time.time() + (delay or 0.0)
        job_id = job_id or f"job_{uuid.uuid4().hex[:12]}"
        if cron is not None:
            when = croniter(cron, when - 1e-6).get_next(float)
        await self._need_store().add(job_id, agent, objective,
                                     delivery=deliver.model_dump() if deliver else None,
                                     cron=cron, run_at=when,
                                     status="scheduled" if cron else "pending",
                                     origin=dict(origin) if origin else None)
        self._changed.set()
        return job_id

    async def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's public state, or None for an unknown id."""
        job = await self._need_store().get(job_id)
        return job.public() if job else None

    async def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a pending or running job: it ends ``cancelled`` and is not delivered.

        Returns:
            The job's public state plus ``cancelled`` (False: it had ended already, or is a
            cron template, see ``unschedule``), or None for an unknown id.
        """
        store = self._need_store()
        job = await store.get(job_id)
        if job is None:
            return None
        done = job.status in ("pending", "running") and await store.move(
            job_id, job.status, "cancelled", error="cancelled")
        if done and (task := self._running.get(job_id)) is not None:
            task.cancel()
        job = await store.get(job_id) or job
        return {**job.public(), "cancelled": done}

    async def unschedule(self, cron_id: str) -> bool:
        """Stop a cron job: no further occurrence starts (those already started go on).

        Returns:
            True if it was scheduled, False for an unknown id, a job that is no cron
            template, or one unscheduled already.
        """
        return await self._need_store().move(cron_id, "scheduled", "unscheduled")

    async def jobs(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every job whose id starts with ``prefix`` (occurrences of a cron job: ``id@``)."""
        rows = await self._need_store().select("id LIKE ?", (prefix + "%",))
        return [j.public() for j in rows]

    async def wait(self, job_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the job is delivered (or kept, failed delivery, or was cancelled).

        Raises:
            TimeoutError: not settled within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while True:
                job = await self._need_store().get(job_id)
                if job and job.status in ("delivered", "done", "delivery_failed",
                                          "cancelled") and (
                        job.status != "done" or job.delivery is None):
                    return job.public()
                await asyncio.sleep(self.poll_interval / 2)

    def _need_store(self) -> JobStore:
        if self._store is None:
            raise RuntimeError("the dispatcher is not started (use 'async with' or start())")
        return self._store

    async def _loop(self) -> None:
        store = self._need_store()
        while True:
            now = time.time()
            for template in await store.select("status = 'scheduled' AND run_at <= ?", (now,)):
                await self._fire(template)
            for job in await store.select("status = 'pending' AND run_at <= ?", (now,)):
                if await store.move(job.id, "pending", "running"):
                    self._launch(job)
            for job in await store.select(
                    "status = 'done' AND delivery IS NOT NULL AND "
                    "(next_attempt IS NULL OR next_attempt <= ?)", (now,)):
                if job.id not in self._running:
                    await self._deliver(job)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.poll_interval)

    async def _fire(self, template: Job) -> None:
        """Create the due occurrence of a cron job and move its template to the next one."""
        assert template.cron is not None
        nxt = croniter(template.cron, template.run_at).get_next(float)
        store = self._need_store()
        if await store.move(template.id, "scheduled", "scheduled", run_at=nxt):
            await store.add(f"{template.id}@{int(template.run_at)}", template.agent,
                            template.task, delivery=template.delivery, cron=None,
                            run_at=template.run_at, status="pending", origin=template.origin)

    def _launch(self, job: Job) -> None:
        task = asyncio.create_task(self._run(job))
        self._running[job.id] = task
        task.add_done_callback(lambda _: self._running.pop(job.id, None))

    def _graph(self, agent: str) -> Any:
        if agent not in self._graphs:
            self._graphs[agent] = compile_agent(self.agents[agent], checkpointer=self._saver,
                                                model=self.model)
        return self._graphs[agent]

    async def _run(self, job: Job) -> None:
        """Run (or resume, or read back) one job's child, store its ending, deliver it.

        Under the agent's ``retry`` policy every attempt runs on its own thread (``job-<id>``,
        then ``job-<id>#<n>``), so after a restart finished attempts are read back, not
        re-run; ``Agent.timeout`` bounds each attempt (see ``subagents.nodes.retry``).
        """
        agent = self.agents[job.agent]
        call = CallInfo(job.id, job.task, retried=agent.retry is not None)
        ended = await adrive(attempts(agent.retry, call, lambda: self._attempt(job, call),
                                      lambda *_: None))
        outcome = {"status": ended.status.value, "result": ended.result, "error": ended.error}
        if call.retried:
            outcome |= {"attempts": call.attempt, "errors": list(call.errors)}
        if not await self._need_store().move(job.id, "running", "done", result=outcome,
                                             error=ended.error):
            return  # cancelled meanwhile: kept as cancelled, not delivered
        job = await self._need_store().get(job.id) or job
        if job.delivery is not None:
            await self._deliver(job)

    def _attempt(self, job: Job, call: CallInfo) -> Step[Attempt]:
        """One attempt of a job's child on its own thread: its ending, and what it raised."""
        agent = self.agents[job.agent]
        graph = self._graph(job.agent)
        thread = f"job-{job.id}" if call.attempt == 1 else f"job-{job.id}#{call.attempt}"
        cfg: RunnableConfig = {"configurable": {"thread_id": thread}}
        try:
            snap = yield Both(lambda: graph.get_state(cfg), lambda: graph.aget_state(cfg))
            if snap.values and not snap.next:
                state = snap.values  # finished before a crash: read, do not re-run
            else:
                inputs = None if snap.values else {"messages": [HumanMessage(job.task)]}
                run = Invoke(graph, inputs, cfg, {"durability": "sync"})
                state, late = yield RunChild(lambda: single(run), agent.timeout, call)
                if late:
                    assert agent.timeout is not None
                    return Attempt(timed_out(None, agent.timeout))  # no scope: a root run
            return Attempt(read_ending(agent, state))
        except Exception as exc:  # a failing child is a failed job, never a dead worker
            return Attempt(Ending(Status.FAILED, None, f"{type(exc).__name__}: {exc}"), exc)

    async def _deliver(self, job: Job) -> None:
        target = parse_delivery(job.delivery)
        if target is None:
            return
        outcome = job.result or {}
        payload = {"job_id": job.id, "agent": job.agent, **outcome, "origin": job.origin}
        store = self._need_store()
        try:
            await deliver(target, payload, self.handlers)
        except DeliveryError as exc:
            await store.move(job.id, "done", "delivery_failed", error=str(exc),
                             attempts=job.attempts + 1)
            return
        await store.move(job.id, "done", "delivered", attempts=job.attempts + 1)
