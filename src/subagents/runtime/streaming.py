"""``stream_events``: an async iterator over every event of one run, at every depth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from subagents.events import BaseEvent, RunEnd
from subagents.runtime.scope import observe

__all__ = ["stream_events"]

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
