"""Running one call of an agent's own tool: a timeout, and no exit of the process.

Sync tools run in a daemon thread of their own (in sync runs always, in async runs when they
have a timeout), so a tool that hangs past its timeout is left running there while the run
goes on, and a Ctrl-C, delivered to the main thread, stays the run's own.

A tool raising ``SystemExit`` (``argparse`` on bad arguments) or ``KeyboardInterrupt`` gets
it turned into :class:`ToolExit`, an ordinary exception, inside the tool's own task: LangChain
runs an async tool in a task of its own, and asyncio re-raises those two out of the event loop
as soon as they leave a task, which would end the whole run.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from langchain_core.messages import ToolCall
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool

from subagents.errors import SubagentsError
from subagents.runtime.threads import in_daemon_thread
from subagents.runtime.upstream import AsyncImpl, has_async_impl, wrap_async_impl

__all__ = ["ToolExit", "ToolRun", "ToolTimeout", "guarded"]


class ToolExit(SubagentsError):
    """A tool raised ``SystemExit`` or ``KeyboardInterrupt`` (``original``)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


class ToolTimeout(SubagentsError):
    """A tool call outlived its timeout (``seconds``); ``running``: left in its thread."""

    def __init__(self, name: str, seconds: float, *, running: bool) -> None:
        fate = ("it cannot be interrupted and may still be running in its thread" if running
                else "it was cancelled")
        super().__init__(f"tool '{name}' timed out after {seconds:g} s ({fate})")
        self.seconds, self.running = seconds, running


def guarded(tool: BaseTool) -> BaseTool:
    """A copy of ``tool`` whose async path raises :class:`ToolExit` instead of an exit.

    Its async implementation is wrapped (``runtime.upstream.wrap_async_impl``), so the
    exit is turned into an exception inside the tool's own task.
    """
    return wrap_async_impl(tool, _no_exit)


def _no_exit(inner: AsyncImpl) -> AsyncImpl:
    async def arun(*args: Any, **kwargs: Any) -> Any:
        try:
            return await inner(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit) as exc:
            raise ToolExit(exc) from exc

    return arun


def _in_thread(tool: BaseTool, tc: ToolCall, config: RunnableConfig) -> Future[Any]:
    """Start ``tool.invoke(tc, config)`` in a daemon thread (the caller's context copied)."""
    return in_daemon_thread(partial(tool.invoke, tc, config), f"subagents-tool-{tool.name}")


def _result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except (KeyboardInterrupt, SystemExit) as exc:  # raised by the tool, in its thread
        raise ToolExit(exc) from exc


@dataclass(frozen=True, slots=True)
class ToolRun:
    """Run one call of an agent's own tool, waiting at most ``timeout`` seconds (a request).

    Sync (``run``): the tool runs in a daemon thread, left running there past its timeout.
    Async (``arun``): on the event loop, cancelled after the timeout; a sync-only tool with a
    timeout runs in a daemon thread (LangChain's executor thread would keep the process from
    exiting if it hangs). An async tool that ignores cancellation or blocks the event loop
    cannot be stopped.

    Attributes:
        tool: the tool, from :func:`guarded`.
        call: the tool call (LangChain then returns a ``ToolMessage`` or the raw output).
        config: the node's config.
        timeout: seconds to wait; None: no limit.

    Raises:
        ToolTimeout: the call did not end within ``timeout``.
        ToolExit: the tool raised ``SystemExit`` or ``KeyboardInterrupt``.
        Exception: whatever the tool raised (``GraphBubbleUp`` for ``interrupt()``).
    """

    tool: BaseTool
    call: ToolCall
    config: RunnableConfig
    timeout: float | None

    def run(self) -> Any:
        """The tool's output, from its daemon thread."""
        future = _in_thread(self.tool, self.call, self.config)
        done, _ = wait([future], self.timeout)
        if not done:
            raise ToolTimeout(self.tool.name, self.timeout or 0.0, running=True)
        return _result(future)

    async def arun(self) -> Any:
        """The tool's output, awaited on the event loop."""
        tool, tc, config, timeout = self.tool, self.call, self.config, self.timeout
        if timeout is None:
            try:
                return await tool.ainvoke(tc, config)
            except (KeyboardInterrupt, SystemExit) as exc:  # a sync tool's, from its thread
                raise ToolExit(exc) from exc
        if not has_async_impl(tool):
            future = _in_thread(tool, tc, config)
            waiter = asyncio.wrap_future(future)
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
            if not done:
                waiter.cancel()
                raise ToolTimeout(tool.name, timeout, running=True)
            return _result(future)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await tool.ainvoke(tc, config)
        except TimeoutError:
            if deadline.expired():
                raise ToolTimeout(tool.name, timeout, running=False) from None
            raise
