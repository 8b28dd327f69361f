"""Exported graph ``explorer``: the codebase explorer team (see ``langgraph.json``).

``dev`` delegates exploration to ``explore`` (read-only ``find`` and ``read_file``; its
first step is ``find`` with the whole task, made by the runtime: ``Agent.first_call``).
Compiled without a checkpointer: a LangGraph server brings its own. The file tools are
confined to ``$SUBAGENTS_ROOT`` (default: the working directory); the model is resolved by
``subagents.models`` (``$SUBAGENTS_MODEL``, else the local 1.5B).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from subagents.graphs._lazy import graph_model, lazy_graph, served
from subagents.graphs.compile import compile_agent
from subagents.spec import Agent
from subagents.teams import load_team
from subagents.testing.demo import explorer_model

# and the lazy `graph`
__all__ = ["TEAM_FILE", "build_graph", "build_team", "make_graph", "served_graph"]

TEAM_FILE = Path(__file__).with_name("teams") / "codebase_explorer.yaml"
"""The team file (``examples/codebase_explorer.yaml`` links to it)."""


def build_team(root: str | os.PathLike[str] | None = None) -> Agent:
    """The explorer team with its file tools confined to ``root`` (default: see module doc)."""
    return load_team(TEAM_FILE, root=root or os.environ.get("SUBAGENTS_ROOT") or ".")


def build_graph(root: str | os.PathLike[str] | None = None,
                model: BaseChatModel | str | None = None) -> Any:
    """Compile the explorer team (no checkpointer: the server or the caller brings one)."""
    return compile_agent(build_team(root), model=model)


@functools.cache
def make_graph() -> Any:
    """The exported graph, built once, on first use (the model: see ``graphs._lazy``)."""
    return build_graph(model=graph_model("explorer", explorer_model))


served_graph = served(make_graph)
"""The async factory ``langgraph.json`` points to: ``make_graph()`` built off the event loop."""

__getattr__ = lazy_graph(globals(), make_graph)
"""``graph``: the same graph as ``make_graph()``, for ``from ... import graph``."""
