"""``AgentNode``: the runnable behind every node of an agent graph."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from subagents.runtime.call import Stopped
from subagents.runtime.scope import scope_of

__all__ = ["AgentNode"]


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
        if scope.adopted:
            scope.node_config(config)
        if scope.stopped:
            raise Stopped("the delegation stopped waiting for this sub-agent (timeout)")
    return config
