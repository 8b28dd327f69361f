"""``compile_agent``: turn an :class:`~subagents.spec.Agent` tree into compiled subgraphs.

Depth counts down from the root: the root's remaining delegation depth is its
``max_subagent_depth`` (None: 1), a child's is its parent's minus one, lowered to the child's
own ``max_subagent_depth`` when that is set. At depth 0 no delegation node or tool exists,
which also bounds self-delegation and cycles.

Children are compiled first, so a parent's delegation nodes receive their children already
compiled, and each agent is compiled once per (agent, remaining depth, model): the graph does
not depend on where in the tree it runs (a run learns its ancestry path from its parent's run
scope), so a team with cycles builds a number of graphs linear in the depth instead of one per
path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from subagents.errors import SpecError
from subagents.nodes import AgentPlan, ChildLink
from subagents.nodes.schemas import (
    final_answer_spec,
    lifecycle_specs,
    per_agent_spec,
    task_spec,
    tool_spec,
)
from subagents.runtime.cost import model_price, pricing_key, require_price, tree_pricing
from subagents.spec import Agent, iter_agents
from subagents.subgraphs import build_agent_graph
from subagents.subgraphs.foreign import graph_child
from subagents.subgraphs.remote import remote_child

__all__ = ["child_depth", "compile_agent"]


def compile_agent(
    agent: Agent,
    *,
    checkpointer: BaseCheckpointSaver[Any] | Literal[True] | None = None,
    model: BaseChatModel | str | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile an agent and its sub-agents into one LangGraph graph.

    Args:
        agent: the root agent spec.
        checkpointer: saver for the root thread; sub-agents inherit it (their checkpoints
            live under the delegation node's ``checkpoint_ns``; persistent sub-agents get
            their own thread in it). None: no persistence. True: the runtime brings one
            (a LangGraph server, or a parent graph this one runs inside).
        model: a model for every agent that names none (after the agent's own ``model``;
            see ``subagents.models.resolve_model``).

    Returns:
        A compiled graph with input/output ``{"messages": [...]}`` (plus
        ``structured_response`` when the root has an ``output_schema``).

    Raises:
        SpecError: a sub-agent name refers to no agent among the caller and its ancestors,
            a ``needs_approval`` name is no tool of its agent (own, delegation or lifecycle
            tool), a ``first_call`` names no own tool of its agent, or a persistent
            sub-agent has no checkpointer anywhere (none given here, and no ``persistence``
            factory of its own).
        ModelResolutionError: no model could be resolved for an agent.
    """
    if checkpointer is None:
        _check_persistence(agent)
    root_model = _resolve(agent.model, cli_model=model, fallback=None)
    depth = 1 if agent.max_subagent_depth is None else agent.max_subagent_depth
    return _compile(agent, (agent,), depth, root_model, _Compiler(model, checkpointer))


def child_depth(parent_depth: int, child: Agent) -> int:
    """The remaining delegation depth of ``child`` called from a parent at ``parent_depth``.

    Args:
        parent_depth: the parent's remaining depth (>= 1 where it may delegate).
        child: the child's spec; its ``max_subagent_depth`` (None: inherit) can only lower
            the inherited ``parent_depth - 1``.

    Returns:
        The child's remaining depth, >= 0 (0: it binds no delegation tools).
    """
    inherited = max(parent_depth - 1, 0)
    own = child.max_subagent_depth
    return inherited if own is None else min(inherited, own)


def _resolve(spec: BaseChatModel | str | None, *, cli_model: BaseChatModel | str | None,
             fallback: BaseChatModel | None) -> BaseChatModel:
    if isinstance(spec, BaseChatModel):
        return spec
    if spec is None and fallback is not None:
        return fallback
    if spec is None and isinstance(cli_model, BaseChatModel):
        return cli_model
    # deferred for start-up time, not for a cycle: subagents.models imports langchain_openai
    # (over a second on this VM), needed only when a model is named by a string
    from subagents.models import resolve_model

    return resolve_model(spec, cli_model=cli_model if isinstance(cli_model, str) else None)


def _check_persistence(root: Agent) -> None:
    for agent in iter_agents(root):
        if (agent.persistent and agent.persistence is None and agent.remote is None
                and agent is not root):
            msg = (f"agent {agent.name!r}: field 'persistent': a persistent sub-agent needs a "
                   "checkpointer: pass compile_agent(checkpointer=...) (True when a LangGraph "
                   "server brings its own) or give the agent a 'persistence' factory")
            raise SpecError(msg)


def _child_ref(ref: Agent | str, lineage: tuple[Agent, ...]) -> Agent:
    if isinstance(ref, Agent):
        return ref
    for ancestor in reversed(lineage):
        if ancestor.name == ref:
            return ancestor
    names = ", ".join(a.name for a in lineage)
    msg = (f"agent {lineage[-1].name!r}: field 'subagents': unknown agent {ref!r} (a name "
           f"must be the agent itself or an ancestor: {names})")
    raise SpecError(msg)


_Graph = CompiledStateGraph[Any, Any, Any, Any]


class _Compiler:
    """One ``compile_agent`` call: builds each (agent, depth, model) graph once."""

    def __init__(self, cli_model: BaseChatModel | str | None,
                 checkpointer: BaseCheckpointSaver[Any] | Literal[True] | None) -> None:
        self.cli_model, self.checkpointer = cli_model, checkpointer
        self.built: dict[tuple[int, int, int | str, object, bool], _Graph] = {}

    def build(self, agent: Agent, lineage: tuple[Agent, ...], depth: int,
              model: BaseChatModel) -> _Graph:
        """The graph of ``agent`` at ``lineage`` (root first) with ``depth`` remaining."""
        path = tuple(a.name for a in lineage)
        children: dict[str, ChildLink] = {}
        for ref in agent.subagents:
            child = _child_ref(ref, lineage)
            tool = "task" if agent.delegation == "task" else child.delegation_tool_name
            graph = self._child_graph(child, lineage, depth, model) if depth > 0 else None
            children[child.name] = ChildLink(child, _node_name(path, child), tool, graph,
                                            (*path, child.name), tool in agent.needs_approval)
        _check_approval(agent, children)
        _check_first_call(agent)
        price = model_price(model, tree_pricing(lineage))
        require_price(lineage, price)
        plan = AgentPlan(agent=agent, path=path, model=model, price=price,
                         tools={t.name: t for t in agent.tools}, children=children, depth=depth,
                         budgeted=_budgeted(lineage))
        specs = [tool_spec(t) for t in agent.tools]
        if plan.can_delegate:
            specs.extend(_delegation_specs(agent, children,
                                           background=plan.background is not None))
        if plan.background is not None:
            lifecycle = lifecycle_specs(plan.background)
            specs.extend(lifecycle)
            plan = replace(plan, lifecycle=tuple(s["function"]["name"] for s in lifecycle))
        if agent.output_schema is not None:
            specs.append(final_answer_spec(agent.output_schema))
        plan.tool_specs.extend(specs)
        return build_agent_graph(plan, checkpointer=self.checkpointer if len(path) == 1
                                 else None)

    def _child_graph(self, child: Agent, lineage: tuple[Agent, ...], depth: int,
                     model: BaseChatModel) -> Runnable[Any, Any]:
        if child.remote is not None:
            return remote_child(child)  # a graph on a LangGraph server, via RemoteGraph
        if child.graph is not None:
            return graph_child(child, tree_pricing((*lineage, child)))  # the user's own graph
        remaining = child_depth(depth, child)
        spec = child.model
        key = (id(child), remaining, id(model) if spec is None else
               spec if isinstance(spec, str) else id(spec), pricing_key((*lineage, child)),
               _budgeted((*lineage, child)))
        graph = self.built.get(key)
        if graph is not None:  # built at another place: its names must resolve here too
            for ref in child.subagents:
                _child_ref(ref, (*lineage, child))
        else:
            child_model = _resolve(spec, cli_model=self.cli_model, fallback=model)
            graph = _compile(child, (*lineage, child), remaining, child_model, self)
            self.built[key] = graph
        return graph


def _compile(agent: Agent, lineage: tuple[Agent, ...], depth: int, model: BaseChatModel,
             compiler: _Compiler) -> _Graph:
    """Build one agent's graph (its children through ``compiler``'s cache)."""
    return compiler.build(agent, lineage, depth, model)


def _budgeted(lineage: tuple[Agent, ...]) -> bool:
    """Whether an agent at ``lineage`` (root first, itself last) runs under a ``Budget``."""
    return any(a.budget is not None for a in lineage)


def _check_approval(agent: Agent, children: dict[str, ChildLink]) -> None:
    """Every ``needs_approval`` name must be a tool of the agent (else it would run unasked)."""
    names = {t.name for t in agent.tools} | {link.tool for link in children.values()}
    background = agent.background_config
    if background is not None:
        names |= {f"agent_{t}" for t in background.tools}
    unknown = [n for n in agent.needs_approval if n not in names]
    if unknown:
        msg = (f"agent {agent.name!r}: field 'needs_approval': {unknown} name no tool of the "
               f"agent; its tools: {', '.join(sorted(names)) or '(none)'}")
        raise SpecError(msg)


def _check_first_call(agent: Agent) -> None:
    """``first_call`` must name one of the agent's own tools."""
    first = agent.first_call
    own = sorted(t.name for t in agent.tools)
    if first is not None and first.tool not in own:
        msg = (f"agent {agent.name!r}: field 'first_call': {first.tool!r} is no tool of the "
               f"agent; its own tools: {', '.join(own) or '(none)'}")
        raise SpecError(msg)


def _node_name(path: tuple[str, ...], child: Agent) -> str:
    # The child's path below the root where its parent's graph is first built (Mermaid and
    # Studio want distinct names); a graph shared by several places keeps these names.
    return "/".join((*path[1:], child.name))


def _delegation_specs(agent: Agent, children: dict[str, ChildLink], *,
                      background: bool) -> list[dict[str, Any]]:
    ctx = agent.delegation_context
    if agent.delegation == "task":
        return [task_spec([link.agent for link in children.values()], with_context=ctx,
                          background=background)]
    return [per_agent_spec(link.agent, with_context=ctx, background=background)
            for link in children.values()]
