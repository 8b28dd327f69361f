"""Compile-time facts about one agent at one place in the tree, shared by its nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.pregel import Pregel

from subagents.runtime.cost import ModelPrice
from subagents.spec import Agent
from subagents.spec.background import BackgroundConfig

__all__ = ["NUDGE_KEY", "STOP_KEY", "AgentPlan", "ChildLink"]

STOP_KEY = "subagents_stop"
"""``response_metadata`` key on a final AI message that ended for a runtime reason
(``"max_steps"``, ``"repeated_tool_call"``: the loop guard)."""
NUDGE_KEY = "subagents_nudge"
"""``additional_kwargs`` key marking a runtime-written HumanMessage (not a new task)."""


@dataclass(frozen=True, slots=True)
class ChildLink:
    """One allowed sub-agent as its parent sees it.

    Attributes:
        agent: the child's spec.
        node: the delegation node's name in the parent graph (the child's name).
        tool: the tool name the parent model calls (``task`` or ``task_<name>``).
        graph: the child's compiled graph, or None where the parent's depth is exhausted.
        path: the child's ancestry path (the parent's path plus its name).
        approval: the parent's ``needs_approval`` names this delegation tool: every call
            waits for a human before the child runs.
        split: what a delegation invokes (see :meth:`runnable`), made at its first use.
    """

    agent: Agent
    node: str
    tool: str
    graph: Runnable[Any, Any] | None
    path: tuple[str, ...] = ()
    approval: bool = False
    split: tuple[Runnable[Any, Any], RunnableConfig] | None = field(
        default=None, init=False, compare=False, repr=False)

    def runnable(self) -> tuple[Runnable[Any, Any], RunnableConfig]:
        """What a delegation invokes, and the graph's own config it merges into its own.

        ``graph`` without its own config when that config is only run name, tags, metadata
        and recursion limit (see :func:`_split_config`), else ``graph`` itself and ``{}``.
        Made at the first delegation, not at compile time, so that what a caller sets on
        the compiled child before running (``interrupt_before_nodes``) is kept. Only called
        for a link with a graph (a delegation node exists only then).
        """
        if self.split is None:
            assert self.graph is not None
            object.__setattr__(self, "split", _split_config(self.graph))
        assert self.split is not None
        return self.split


_MERGEABLE = frozenset({"run_name", "tags", "metadata", "recursion_limit", "configurable"})
"""The keys of a graph's own config (``with_config``) a delegation merges itself."""


def _split_config(graph: Runnable[Any, Any]) -> tuple[Runnable[Any, Any], RunnableConfig]:
    """A child graph without its own config, and that config (``{}``: invoked as it is).

    An agent's graph carries its run name, tags and metadata (``with_config``); LangGraph
    merges them into every run's config, and a delegation merges a config of its own too:
    merging both once per delegation into a copy of the graph with no config spares
    LangGraph a second merge (same config, same run). Only a ``Pregel`` whose own config
    has nothing but run name, tags, metadata, recursion limit and an empty
    ``configurable``; any other graph is invoked as it is.
    """
    if not isinstance(graph, Pregel):
        return graph, {}
    bound = graph.config
    if not bound or not bound.keys() <= _MERGEABLE or bound.get("configurable"):
        return graph, {}
    return graph.copy({"config": None}), bound


@dataclass(frozen=True, slots=True)
class AgentPlan:
    """Everything an agent's nodes need, fixed when the graph is compiled.

    Attributes:
        agent: the spec.
        path: ancestry path from the root, this agent last (``("dev", "explore")``).
        model: the resolved chat model.
        tools: the agent's own tools by name.
        children: allowed sub-agents by agent name (graphs None at depth 0).
        depth: remaining delegation depth below this agent (0: may not delegate).
        tool_specs: OpenAI-format tool dicts bound to the model, in order.
        bind_kwargs: extra ``bind_tools`` arguments (``parallel_tool_calls`` for local models).
        lifecycle: names of the bound background lifecycle tools (``agent_status``, ...).
        price: the price of ``model``'s calls with the agent's inherited ``pricing`` (None:
            priced from the model alone; see :mod:`subagents.runtime.cost`).
        budgeted: the agent or one of its ancestors (compile-time lineage) has a ``Budget``:
            its graph has the ``budget_spent`` channel and its model node checkpoints the
            spent counters there (``nodes.state.with_spent``).
    """

    agent: Agent
    path: tuple[str, ...]
    model: BaseChatModel
    tools: dict[str, BaseTool]
    children: dict[str, ChildLink]
    depth: int
    tool_specs: list[dict[str, Any]] = field(default_factory=list)
    bind_kwargs: dict[str, Any] = field(default_factory=dict)
    lifecycle: tuple[str, ...] = ()
    price: ModelPrice | None = None
    budgeted: bool = False

    @property
    def background(self) -> BackgroundConfig | None:
        """Background settings when this agent may delegate in the background."""
        return self.agent.background_config if self.can_delegate else None

    @property
    def can_delegate(self) -> bool:
        """Whether delegation tools are bound (children exist and depth remains)."""
        return self.depth > 0 and bool(self.children)

    @property
    def delegation_tools(self) -> dict[str, ChildLink | None]:
        """Tool name -> child (None for the shared ``task`` tool that names its agent)."""
        out: dict[str, ChildLink | None] = {}
        for link in self.children.values():
            out[link.tool] = None if link.tool == "task" else link
        return out
