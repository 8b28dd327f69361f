"""Graphs of our own for ``tests/test_from_graph.py`` (importable as ``_graphs:...``)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda


def shout_graph() -> Runnable[Any, Any]:
    """A factory: a Runnable that answers the last message's text in capitals."""
    return RunnableLambda(lambda state: state["messages"][-1].content.upper())


SHOUT = shout_graph()
"""An attribute holding one."""
