"""The team of the ``max_seconds`` deadline tests (sync and async): a root under
``Budget(max_seconds=0.3)`` that delegates to ``worker`` and calls ``stall`` in one reply.

The model and the ``stall`` tool that get stuck are each test file's own (sync or async).
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from subagents import Agent, Budget
from subagents.testing import ai, call


def stuck_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """The root's first reply delegates to ``worker`` and calls ``stall``; then answers."""
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root" and turns == 0:
        return ai(call("task", agent="worker", objective="w"), call("stall"))
    return ai(f"{agent} done")


def stuck_root(model: BaseChatModel, root_tools: list[Any]) -> Agent:
    """The root (``Budget(max_seconds=0.3)``) with its ``worker`` sub-agent."""
    return Agent(name="root", model=model, tools=root_tools, budget=Budget(max_seconds=0.3),
                 subagents=[Agent(name="worker")])
