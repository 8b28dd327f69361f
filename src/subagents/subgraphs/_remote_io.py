"""The I/O of one remote delegation, as sans-IO requests (sync client and async client).

:class:`~subagents.subgraphs.remote.RemoteChild` writes a delegation once, as a step
(:mod:`subagents.runtime.steps`); each request here does one piece of its I/O with the
``RemoteGraph``'s sync client (``run``, for ``invoke``) or its async one (``arun``, for
``ainvoke``). :func:`plan` reads a remote thread's state: what the delegation needs next.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import StateSnapshot
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError

from subagents.checkpoints.threads import task_message_id
from subagents.nodes.plan import NUDGE_KEY
from subagents.subgraphs._remote_events import Relay, to_messages

__all__ = ["Action", "CancelActive", "JoinActive", "LockThread", "Probe", "ReadState",
           "RunOnce", "plan"]

_ACTIVE = ("pending", "running")
_tlocks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_alocks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())
_guard = threading.Lock()

Action = Literal["run", "resume", "interrupted", "done"]
"""What a delegation's remote thread needs next (see :func:`plan`)."""


def _sync_client(graph: RemoteGraph) -> SyncLangGraphClient:
    if graph.sync_client is None:
        msg = f"remote graph {graph.assistant_id!r}: no sync client (give a url or sync_client)"
        raise ValueError(msg)
    return graph.sync_client


def _async_client(graph: RemoteGraph) -> LangGraphClient:
    if graph.client is None:
        msg = f"remote graph {graph.assistant_id!r}: no async client (give a url or client)"
        raise ValueError(msg)
    return graph.client


@dataclass(frozen=True, slots=True)
class LockThread:
    """Hold a remote thread: one run of this process on it at a time.

    Returns the held lock (``release()`` it); the async lock is per event loop.
    """

    thread_id: str

    def run(self) -> threading.Lock:
        """Acquire the thread's ``threading.Lock``."""
        with _guard:
            lock = _tlocks.get(self.thread_id) or _tlocks.setdefault(self.thread_id,
                                                                     threading.Lock())
        lock.acquire()
        return lock

    async def arun(self) -> asyncio.Lock:
        """Acquire the thread's ``asyncio.Lock`` (of the running loop)."""
        key = (id(asyncio.get_running_loop()), self.thread_id)
        with _guard:
            lock = _alocks.get(key) or _alocks.setdefault(key, asyncio.Lock())
        await lock.acquire()
        return lock


@dataclass(frozen=True, slots=True)
class ReadState:
    """The remote thread's state (None: no such thread yet)."""

    graph: RemoteGraph
    config: RunnableConfig

    def run(self) -> StateSnapshot | None:
        """``graph.get_state``."""
        try:
            return self.graph.get_state(self.config)
        except NotFoundError:
            return None

    async def arun(self) -> StateSnapshot | None:
        """``graph.aget_state``."""
        try:
            return await self.graph.aget_state(self.config)
        except NotFoundError:
            return None


@dataclass(frozen=True, slots=True)
class RunOnce:
    """One remote run to its end, its ``custom`` chunks relayed when someone listens.

    Attributes:
        graph: the remote graph.
        input: the run's input (the task, a ``Command(resume=...)`` or None to resume).
        config: the remote thread's config.
        kwargs: the run's options (``on_disconnect``, ``metadata``).
        relay: where the streamed parts go (its ``mode``: ``custom`` or ``updates``); None:
            not streamed (``invoke``).
    """

    graph: RemoteGraph
    input: Any
    config: RunnableConfig
    kwargs: dict[str, Any]
    relay: Relay | None

    def run(self) -> None:
        """``graph.invoke``, or ``graph.stream`` relayed."""
        if self.relay is None:  # nobody listens: no custom stream
            self.graph.invoke(self.input, self.config, **self.kwargs)
            return
        for part in self.graph.stream(self.input, self.config, stream_mode=self.relay.mode,
                                      subgraphs=True, **self.kwargs):
            self.relay.part(part)

    async def arun(self) -> None:
        """``graph.ainvoke``, or ``graph.astream`` relayed."""
        if self.relay is None:
            await self.graph.ainvoke(self.input, self.config, **self.kwargs)
            return
        async for part in self.graph.astream(self.input, self.config,
                                             stream_mode=self.relay.mode, subgraphs=True,
                                             **self.kwargs):
            self.relay.part(part)


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether the remote graph is a subagents graph (its state has ``usage``).

    Asks the server for the graph's assistant and its schemas; None when it cannot tell
    (the server refused, is unreachable or answered something else: the run itself then
    says why). Never raises an ``Exception``.
    """

    graph: RemoteGraph

    def run(self) -> bool | None:
        """Ask with the sync client."""
        try:
            client = _sync_client(self.graph)
            found = client.assistants.search(graph_id=self.graph.assistant_id, limit=1)
            assistant = found[0]["assistant_id"] if found else self.graph.assistant_id
            return _ours(client.assistants.get_schemas(assistant))
        except Exception:  # cannot tell: streamed as a subagents graph, as before
            return None

    async def arun(self) -> bool | None:
        """Ask with the async client."""
        try:
            client = _async_client(self.graph)
            found = await client.assistants.search(graph_id=self.graph.assistant_id, limit=1)
            assistant = found[0]["assistant_id"] if found else self.graph.assistant_id
            return _ours(await client.assistants.get_schemas(assistant))
        except Exception:  # cannot tell: streamed as a subagents graph, as before
            return None


def _ours(schemas: Mapping[str, Any]) -> bool:
    state = schemas.get("state_schema") or {}
    return "usage" in (state.get("properties") or {})


@dataclass(frozen=True, slots=True)
class JoinActive:
    """Wait for every active run of the thread (one a crashed parent left running)."""

    graph: RemoteGraph
    thread_id: str

    def run(self) -> None:
        """Join them with the sync client."""
        client = _sync_client(self.graph)
        for run in client.runs.list(self.thread_id, limit=20):
            if run["status"] in _ACTIVE:
                client.runs.join(self.thread_id, run["run_id"])

    async def arun(self) -> None:
        """Join them with the async client."""
        client = _async_client(self.graph)
        for run in await client.runs.list(self.thread_id, limit=20):
            if run["status"] in _ACTIVE:
                await client.runs.join(self.thread_id, run["run_id"])


@dataclass(frozen=True, slots=True)
class CancelActive:
    """Cancel every active run of the thread, best effort (the disconnect cancels too).

    Never raises. Async: at most ``timeout`` seconds, shielded from the cancellation that
    asked for it.
    """

    graph: RemoteGraph
    thread_id: str
    timeout: float

    def run(self) -> None:
        """Cancel them with the sync client."""
        try:
            client = _sync_client(self.graph)
            for run in client.runs.list(self.thread_id, limit=20):
                if run["status"] in _ACTIVE:
                    client.runs.cancel(self.thread_id, run["run_id"], action="interrupt")
        except Exception:  # best effort: the disconnect cancels the run too
            pass

    async def arun(self) -> None:
        """Cancel them with the async client, within ``timeout``."""
        cancel = asyncio.ensure_future(self._cancel())
        try:
            await asyncio.wait_for(asyncio.shield(cancel), self.timeout)
        except (Exception, asyncio.CancelledError):  # best effort, as above
            cancel.cancel()

    async def _cancel(self) -> None:
        client = _async_client(self.graph)
        for run in await client.runs.list(self.thread_id, limit=20):
            if run["status"] in _ACTIVE:
                await client.runs.cancel(self.thread_id, run["run_id"], action="interrupt")


def values(snap: StateSnapshot | None) -> dict[str, Any]:
    """A remote state's values, ``messages`` as message objects."""
    out = dict(snap.values) if snap is not None and isinstance(snap.values, dict) else {}
    out["messages"] = to_messages(out.get("messages") or [])
    return out


def plan(snap: StateSnapshot | None, tool_call_id: str) -> tuple[Action, dict[str, Any] | None]:
    """What the delegation's remote thread needs, and the call's own state when ``done``.

    ``run``: the task message is not on the thread; ``resume``: it is and the thread stopped
    before its end; ``interrupted``: it waits on interrupts; ``done``: the state with the
    thread's messages from the task message up to the next task (a persistent child's).
    """
    state = values(snap)
    messages = state["messages"]
    mine = task_message_id(tool_call_id)
    start = next((i for i, m in enumerate(messages) if m.id == mine), None)
    if snap is None or start is None:
        return "run", None
    if snap.next:
        return ("interrupted" if snap.interrupts else "resume"), None
    end = next((j for j in range(start + 1, len(messages))
                if isinstance(messages[j], HumanMessage)
                and not messages[j].additional_kwargs.get(NUDGE_KEY)), len(messages))
    return "done", {**state, "messages": messages[start:end]}
