"""``AgentNode``: the runnable behind every node of an agent graph, and nodes written as steps.

A node written once as a sans-IO step (see :mod:`subagents.runtime.steps`) is built with
:func:`step_node`; :class:`Nested` and :class:`Deadline` are the requests such steps share.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from subagents.runtime.budget import BudgetTracker, deadline, deadline_passed
from subagents.runtime.call import Stopped
from subagents.runtime.scope import scope_of
from subagents.runtime.steps import Request, Step, adrive, drive
from subagents.runtime.threads import in_daemon_thread

__all__ = ["AgentNode", "Deadline", "Nested", "step_node"]


class AgentNode(Runnable[Any, Any]):
    """A node as a sync function and an async function of ``(state, config)``.

    It behaves like LangGraph's ``RunnableCallable(func, afunc, trace=False)`` for a function
    taking ``config``, with one difference that matters: when a graph is compiled, LangGraph
    looks for subgraphs inside every ``RunnableCallable`` by disassembling its function and
    every closure value it reaches (``find_subgraph_pregel``); for our nodes that was two
    thirds of building an agent. An ``AgentNode`` is not searched: the agent builder declares
    a delegation node's child graph itself (``PregelNode.subgraphs``), see
    ``subagents.subgraphs.agent``.

    Every node of an agent runs through here, so here a run that adopted a paused run's
    background table learns its nodes' stream (``RunScope.node_config``), where its adopted
    children's events go; and a sync child whose delegation stopped waiting for it (its
    ``Agent.timeout``) stops at its next node: the node raises ``subagents.runtime.call.Stopped``
    (``RunScope.stopped``), in the child and in every descendant.

    Args:
        func: ``func(state, config) -> update`` for ``invoke``.
        afunc: ``async afunc(state, config) -> update`` for ``ainvoke``.
        name: the node's name (shown in traces).
    """

    def __init__(self, func: Callable[[Any, RunnableConfig], Any],
                 afunc: Callable[[Any, RunnableConfig], Awaitable[Any]], *, name: str) -> None:
        self.func, self.afunc, self.name = func, afunc, name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run ``func`` on the state (``config``: the node's config from LangGraph)."""
        config = _seen(config if config is not None else ensure_config())
        return self.func(input, config)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any) -> Any:
        """Run ``afunc`` on the state (``config``: the node's config from LangGraph)."""
        config = _seen(config if config is not None else ensure_config())
        return await self.afunc(input, config)


def _seen(config: RunnableConfig) -> RunnableConfig:
    scope = scope_of(config)
    if scope is not None:
        if scope.relay is not None:
            scope.node_config(config)
        if scope.stopped:
            raise Stopped("the delegation stopped waiting for this sub-agent (timeout)")
    return config


def step_node(step: Callable[[Any, RunnableConfig], Step[Any]], *, name: str) -> AgentNode:
    """A node written once as a step: ``drive`` runs it for ``invoke``, ``adrive`` for ``ainvoke``.

    Args:
        step: ``step(state, config)``, a generator yielding requests and returning the
            node's update (see :mod:`subagents.runtime.steps`).
        name: the node's name.

    Returns:
        The node.
    """
    return AgentNode(lambda state, config: drive(step(state, config)),
                     lambda state, config: adrive(step(state, config)), name=name)


@dataclass(frozen=True, slots=True)
class Nested:
    """Run a step inside a step, as one request (``drive`` / ``adrive`` it).

    For I/O that must be wrapped as a whole, several requests at once (see :class:`Deadline`).

    Attributes:
        step: the inner step; its return value is the request's result.
    """

    step: Step[Any]

    def run(self) -> Any:
        """``drive(step)``."""
        return drive(self.step)

    async def arun(self) -> Any:
        """``await adrive(step)``."""
        return await adrive(self.step)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A request cut off at the budget's ``max_seconds`` deadline.

    The earliest ``max_seconds`` deadline of ``tracker``'s chain (see
    :func:`subagents.runtime.budget.deadline`) ends the wait for the inner request. ``arun``
    cancels it there. ``run`` (a sync run, which cannot cancel what it waits on) does it in a
    daemon thread (``runtime.threads``) and stops waiting there: the call runs on in its
    thread, its result dropped, as a sync tool past its timeout does. Without a deadline the
    request runs as it is.

    Attributes:
        tracker: the run's budget tracker.
        what: what the request does, for the error ("a model call", "a tool call").
        inner: the request.

    Raises:
        BudgetDeadline: the deadline passed before or during the request.
    """

    tracker: BudgetTracker
    what: str
    inner: Request[Any]

    def run(self) -> Any:
        """``inner.run()``, waited on until the deadline."""
        end = self.tracker.deadline()
        if end is None:
            return self.inner.run()
        left = end[0] - time.monotonic()
        if left <= 0:
            raise deadline_passed(end[1], self.what)
        future = in_daemon_thread(self.inner.run, "subagents-deadline")
        done, _ = wait([future], left)
        if not done:
            raise deadline_passed(end[1], self.what)
        return future.result()

    async def arun(self) -> Any:
        """``await inner.arun()`` under the deadline."""
        async with deadline(self.tracker, self.what):
            return await self.inner.arun()
