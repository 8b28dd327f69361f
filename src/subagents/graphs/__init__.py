"""Exported graphs and their builders (``compile_agent``)."""

from subagents.graphs.compile import compile_agent

__all__ = ["compile_agent"]
