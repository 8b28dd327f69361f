"""Agent subgraphs: one compiled LangGraph ``StateGraph`` per agent."""

from subagents.subgraphs.agent import build_agent_graph
from subagents.subgraphs.compiled import AgentGraph

__all__ = ["AgentGraph", "build_agent_graph"]
