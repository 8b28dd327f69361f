"""Build one agent's ``StateGraph`` from its plan and its already compiled children.

Shape (``get_graph(xray=True)`` draws each child's own graph inside its delegation node)::

    START -> model -(Send per tool call)-> tools | <child> ... -> model -> ... -> END
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from subagents.nodes import (
    AgentPlan,
    AgentState,
    StructuredAgentState,
    make_delegate_node,
    make_model_node,
    make_tool_node,
)

__all__ = ["build_agent_graph"]


def build_agent_graph(
    plan: AgentPlan,
    *,
    checkpointer: BaseCheckpointSaver[Any] | bool | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the graph of one agent.

    Args:
        plan: the agent's compile-time plan; its children's graphs are already compiled.
        checkpointer: the saver (root), or None to inherit the parent's (sub-agents).

    Returns:
        The compiled graph, named after the agent, whose config metadata carries
        ``lc_agent_name`` and ``subagents_path`` (the ancestry path) for every call inside.
    """
    agent = plan.agent
    schema: type[Any] = StructuredAgentState if agent.output_schema is not None else AgentState
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(schema)
    links = [link for link in plan.children.values() if link.graph is not None]
    links = links if plan.can_delegate else []
    targets = (*(["tools"] if plan.tools else []), *(link.node for link in links), "model", END)
    builder.add_node("model", make_model_node(plan), destinations=targets)
    builder.add_edge(START, "model")
    if plan.tools:
        builder.add_node("tools", make_tool_node(plan))
        builder.add_edge("tools", "model")
    for link in links:
        builder.add_node(link.node, make_delegate_node(link))
        builder.add_edge(link.node, "model")
    graph = builder.compile(checkpointer=checkpointer, name=agent.name)
    return graph.with_config(
        metadata={"lc_agent_name": agent.name, "subagents_path": list(plan.path)},
        recursion_limit=2 * agent.max_steps + 6,
    )
