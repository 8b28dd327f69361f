"""Demo tools of the exported graphs (``research``): a slow lookup and a human question."""

from __future__ import annotations

import asyncio
import os

from langchain_core.tools import tool
from langgraph.types import interrupt

__all__ = ["ask_human", "slow_lookup"]


@tool
async def slow_lookup(topic: str) -> str:
    """Look a topic up (slow when the topic says so)."""
    if "slow" in topic:
        await asyncio.sleep(float(os.environ.get("SUBAGENTS_DEMO_SLOW", "30")))
    return f"facts about {topic}"


@tool
def ask_human(question: str) -> str:
    """Ask the human a question and wait for the answer."""
    return str(interrupt({"question": question}))


