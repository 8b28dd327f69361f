"""Exported graphs and their builders (``compile_agent``)."""

from subagents.graphs.compile import compile_agent
from subagents.graphs.pipeline import delegate_node

__all__ = ["compile_agent", "delegate_node"]
