"""Exported graphs: built on first access, served without blocking the server's event loop.

Each exported module (``explorer``, ``research``) has a sync ``make_graph()`` for Python users
(a cached factory rather than a module-level graph, so importing the module starts no model)
and an async ``served_graph()`` that ``langgraph.json`` points to. A LangGraph server calls a
graph factory inside its event loop, where blocking calls (resolving the working directory for
the file tools' root, starting the embedded llama.cpp server) fail with ``BlockingError``; the
async factory builds the graph once in a worker thread instead.

The model of an exported graph (first that is set wins): ``$SUBAGENTS_<GRAPH>_MODEL``
(``SUBAGENTS_EXPLORER_MODEL``, ``SUBAGENTS_RESEARCH_MODEL``), then ``$SUBAGENTS_MODEL``; the
value ``demo`` selects the graph's scripted demo model (no key, no network, no local model);
any other value is a model string (``subagents.models``). Unset: the embedded local model.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.language_models import BaseChatModel

__all__ = ["DEMO", "graph_model", "lazy_graph", "served"]

DEMO = "demo"
"""Model value selecting an exported graph's scripted demo model."""


def graph_model(graph: str, demo: BaseChatModel) -> BaseChatModel | str | None:
    """The model an exported graph runs on, from the environment (see the module doc).

    Args:
        graph: the graph id in ``langgraph.json`` (``explorer``).
        demo: the graph's scripted demo model.

    Returns:
        The demo model, a model string, or None (normal resolution: the local model).
    """
    for name in (f"SUBAGENTS_{graph.upper()}_MODEL", "SUBAGENTS_MODEL"):
        value = os.environ.get(name, "").strip()
        if value:
            return demo if value.lower() == DEMO else value
    return None


def lazy_graph(module_globals: dict[str, Any], build: Callable[[], Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``graph`` once, on first access, and caches it."""

    def __getattr__(name: str) -> Any:
        if name == "graph":
            module_globals["graph"] = built = build()
            return built
        raise AttributeError(f"module {module_globals['__name__']!r} has no attribute {name!r}")

    return __getattr__


def served(build: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    """An async graph factory for ``langgraph.json`` that runs ``build`` in a worker thread.

    Args:
        build: the module's cached ``make_graph`` (called once; later calls are cache hits).

    Returns:
        ``async () -> compiled graph``; errors of ``build`` (``SpecError``,
        ``ModelResolutionError``, ``LocalModelError``) propagate with their message, which the
        server shows to the client.
    """

    async def served_graph() -> Any:
        return await asyncio.to_thread(build)

    served_graph.__doc__ = f"``{build.__module__}.make_graph()``, built off the event loop."
    return served_graph

