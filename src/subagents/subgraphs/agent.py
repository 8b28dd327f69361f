"""Build one agent's ``StateGraph`` from its plan and its already compiled children.

Shape (``get_graph(xray=True)`` draws each child's own graph inside its delegation node)::

    START -> model -(Send per tool call)-> tools | <child> ... -> model -> ... -> END
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from langgraph.pregel.protocol import PregelProtocol

from subagents.nodes import (
    AgentPlan,
    AgentState,
    RootState,
    make_child_call_node,
    make_lifecycle_node,
    make_model_node,
    make_tool_node,
)
from subagents.nodes.state import structured_state, with_background, with_spent
from subagents.subgraphs.compiled import AgentGraph

__all__ = ["build_agent_graph"]


def _state_schema(plan: AgentPlan) -> type[Any]:
    schema = plan.agent.output_schema
    root = len(plan.path) == 1
    state = (structured_state(schema, root=root) if schema is not None
             else RootState if root else AgentState)
    if plan.budgeted:
        state = with_spent(state)
    background = plan.background
    persisted = background is not None and background.persist is not False
    return with_background(state) if persisted else state


def build_agent_graph(
    plan: AgentPlan,
    *,
    checkpointer: BaseCheckpointSaver[Any] | bool | None = None,
) -> AgentGraph:
    """Compile the graph of one agent.

    Args:
        plan: the agent's compile-time plan; its children's graphs are already compiled.
        checkpointer: the saver (root), or None to inherit the parent's (sub-agents).

    Returns:
        The compiled graph, named after the agent (its LangChain run is named so too, with
        the tag ``subagent:<name>``), whose config metadata carries ``lc_agent_name`` and
        ``subagents_path`` (the ancestry path) for every call inside; a delegation adds
        ``subagents_tool_call_id``. LangSmith and any callback handler show the tree.
    """
    agent = plan.agent
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(_state_schema(plan))
    links = [link for link in plan.children.values() if link.graph is not None]
    links = links if plan.can_delegate else []
    own = [*(["tools"] if plan.tools else []), *(["lifecycle"] if plan.lifecycle else [])]
    targets = (*own, *(link.node for link in links), "model", END)
    builder.add_node("model", make_model_node(plan), destinations=targets)
    builder.add_edge(START, "model")
    if plan.tools:
        builder.add_node("tools", make_tool_node(plan))
        builder.add_edge("tools", "model")
    if plan.lifecycle:
        builder.add_node("lifecycle", make_lifecycle_node(plan))
        builder.add_edge("lifecycle", "model")
    for link in links:
        builder.add_node(link.node, make_child_call_node(link))
        builder.add_edge(link.node, "model")
    compiled = builder.compile(checkpointer=checkpointer, name=agent.name)
    for link in links:  # AgentNodes are not searched for subgraphs: declare each child
        compiled.nodes[link.node].subgraphs = _subgraphs(link.graph)
    attrs = {k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"}
    graph = AgentGraph(subagents_plan=plan, **attrs)
    return graph.with_config(
        run_name=agent.name, tags=[f"subagent:{agent.name}"],
        metadata={"lc_agent_name": agent.name, "subagents_path": list(plan.path)},
        recursion_limit=2 * agent.max_steps + 6,
    )


def _subgraphs(graph: Runnable[Any, Any] | None) -> list[PregelProtocol[Any, Any, Any, Any]]:
    """The subgraphs LangGraph's own search would find for a node invoking ``graph``.

    That is the graph itself, unless it is a ``Pregel`` compiled with ``checkpointer=False``.
    """
    if not isinstance(graph, PregelProtocol):
        return []
    if isinstance(graph, Pregel) and graph.checkpointer is False:
        return []
    return [graph]
