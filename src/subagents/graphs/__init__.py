"""Exported graphs and their builders (``compile_agent``)."""

from subagents.graphs.as_tool import as_tool
from subagents.graphs.compile import compile_agent
from subagents.graphs.pipeline import delegate_node

__all__ = ["as_tool", "compile_agent", "delegate_node"]
