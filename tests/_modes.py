"""Running a compiled graph the sync or the async way, for tests parametrized on both."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage


async def run_with(mode: str, graph: Any, handler: BaseCallbackHandler,
                   text: str = "go") -> Any:
    """Run ``graph`` on one HumanMessage ``text`` with ``handler`` as its callback:
    ``invoke`` when ``mode`` is ``"sync"``, else ``ainvoke``."""
    inputs, config = {"messages": [HumanMessage(text)]}, {"callbacks": [handler]}
    if mode == "sync":
        return graph.invoke(inputs, config)
    return await graph.ainvoke(inputs, config)
