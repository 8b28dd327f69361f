"""Agent subgraphs: one compiled LangGraph ``StateGraph`` per agent."""

from subagents.subgraphs.agent import build_agent_graph

__all__ = ["build_agent_graph"]
