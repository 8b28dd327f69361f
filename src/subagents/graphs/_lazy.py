"""Exported graphs built on first access, so importing their module starts no model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["lazy_graph"]


def lazy_graph(module_globals: dict[str, Any], build: Callable[[], Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``graph`` once, on first access, and caches it."""

    def __getattr__(name: str) -> Any:
        if name == "graph":
            module_globals["graph"] = built = build()
            return built
        raise AttributeError(f"module {module_globals['__name__']!r} has no attribute {name!r}")

    return __getattr__
