"""How a read-only tool function becomes a LangChain tool confined to a root (errors as text)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path

from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from subagents.errors import SpecError
from subagents.tools._paths import real_root, show

__all__ = ["make_tool"]


def _safe(func: Callable[..., str], kwargs: dict[str, object]) -> str:
    try:
        return func(**kwargs)
    except Exception as exc:  # the model must get a readable string, never a traceback
        return f"Error: {type(exc).__name__}: {show(str(exc), 200)}"


def make_tool(root: str | Path, name: str, description: str, schema: type[BaseModel],
          func: Callable[..., str]) -> StructuredTool:
    """The tool ``name`` confined to ``root``: ``func(base, **arguments)``, errors as text.

    Raises:
        SpecError: ``root`` is not an existing directory.
    """
    bound = functools.partial(func, _checked_root(root))

    def run(**kwargs: object) -> str:
        return _safe(bound, kwargs)

    async def arun(**kwargs: object) -> str:
        return await asyncio.to_thread(run, **kwargs)

    return StructuredTool.from_function(
        func=run, coroutine=arun, name=name, description=description, args_schema=schema
    )


def _checked_root(root: str | Path) -> str:
    try:
        return real_root(root)
    except OSError as exc:
        raise SpecError(f"tool root '{root}' is not an existing directory") from exc


