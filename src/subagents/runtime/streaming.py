"""``stream_events``: an async iterator over every event of one run, at every depth.

And the relay of a child that runs on its own checkpoint thread (a persisted background
child): LangGraph streams only the subgraphs of a run's own tasks, so :func:`relay` and
:func:`relay_messages` pass such a child's stream parts (``updates``, ``values``, ``custom``,
``messages``, ...) into its parent run's stream under a namespace of the parent's
(:func:`child_namespace`), as if it ran there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.protocol import StreamChunk, StreamProtocol

from subagents.events import BaseEvent, RunEnd
from subagents.runtime.observe import observe
from subagents.runtime.upstream import StreamMessagesHandler

__all__ = ["child_namespace", "relay", "relay_messages", "stream_events"]

_NS_SEP = "|"
"""LangGraph's separator of checkpoint namespace segments (``parent:<id>|child:<id>``)."""


def child_namespace(checkpoint_ns: str | None, node: str, tool_call_id: str) -> tuple[str, ...]:
    """The namespace a child on its own thread streams under in its parent's run.

    Args:
        checkpoint_ns: the ``checkpoint_ns`` of the parent's node that started the child
            (``"lead_node:<task id>|researcher:<task id>"``; empty or None at the root).
        node: the parent's delegation node of the child (``ChildLink.node``).
        tool_call_id: the parent's tool call that started the child.

    Returns:
        The node's namespace with its last segment ``<node>:<tool_call_id>``: one namespace
        per child (several background calls of one reply share one node task), the same
        before and after a restart; ``AgentGraph.get_state`` reads the child's own thread
        there.
    """
    segments = checkpoint_ns.split(_NS_SEP)[:-1] if checkpoint_ns else []
    return (*segments, f"{node}:{tool_call_id}")


def relay(stream: Any, namespace: tuple[str, ...]) -> StreamProtocol:
    """A stream for a child's own run that writes its parts into ``stream`` under ``namespace``.

    Args:
        stream: the parent run's stream (a LangGraph ``StreamProtocol``, from the
            ``configurable`` of its node).
        namespace: where the child's parts go (:func:`child_namespace`); a part the child's
            run writes at namespace ``ns`` reaches ``stream`` at ``namespace + ns``.

    Returns:
        A ``StreamProtocol`` with ``stream``'s modes, for the child's config.
    """
    def put(chunk: StreamChunk) -> None:
        ns, mode, payload = chunk
        stream((namespace + tuple(ns), mode, payload))

    return StreamProtocol(put, set(stream.modes))


def relay_messages(callbacks: Any, stream: Any) -> Any:
    """``callbacks`` plus a handler writing the child's model messages to ``stream``.

    For a parent run streaming ``messages`` (LangGraph adds its handler only for a run's own
    tasks); ``stream`` is the :func:`relay` of the parent's stream, so the messages carry the
    child's namespace. ``callbacks`` is not changed.

    Args:
        callbacks: the child's callbacks (a manager, a list or None).
        stream: the relay.

    Returns:
        The callbacks to run the child with.
    """
    handler = StreamMessagesHandler(stream, True)
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        return manager
    return [*(callbacks or []), handler]


_DONE: Any = object()


async def stream_events(
    graph: Any,
    inputs: Any,
    config: RunnableConfig | None = None,
    *,
    detail: Literal["all", "summary"] = "all",
) -> AsyncIterator[BaseEvent]:
    """Run ``graph`` and yield its events (``subagents.events``) as they happen.

    Args:
        graph: a graph from ``compile_agent``.
        inputs: the run's input (``{"messages": [...]}``, ``None`` to resume, a ``Command``).
        config: the run's config (thread_id, ...).
        detail: ``"summary"`` hides sub-agent chatter (see ``observe``).

    Yields:
        Events in the order they were emitted (per agent, in that agent's order), then one
        :class:`~subagents.events.RunEnd` holding the run's output state (what ``ainvoke``
        returned): ``event.output["messages"][-1]`` is the answer, ``event.output["usage"]``
        the usage tree. A run that raises yields no ``RunEnd``.

    Raises:
        Exception: whatever the run raises, after the events before it were yielded. Leaving
            the loop early cancels the run (and so every descendant).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def sink(event: BaseEvent) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    _, cfg = observe(config, on_event=sink, detail=detail)

    async def run() -> Any:
        try:
            return await graph.ainvoke(inputs, cfg)
        finally:
            loop.call_soon(queue.put_nowait, _DONE)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not _DONE:
            yield item
        output = await task
        root = str(graph.get_name())
        yield RunEnd(path=[root], agent=root, output=dict(output or {}))
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
