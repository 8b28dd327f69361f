"""Shared by the money tests: the scripted model's prices and a reply's cost."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from subagents.testing import ScriptedChatModel

PRICE = (1.0, 2.0)
"""USD per million input / output tokens of the scripted model in these tests."""


@tool
def probe(n: int) -> str:
    """Probe something."""
    return f"probed {n}"


def cost_of(reply: AIMessage | None, price: tuple[float, float] = PRICE) -> float:
    """What a scripted reply costs at ``price``, computed here from its usage."""
    assert reply is not None and reply.usage_metadata is not None
    usage = reply.usage_metadata
    return (usage["input_tokens"] * price[0] + usage["output_tokens"] * price[1]) / 1e6


class CappedModel(ScriptedChatModel):
    """A scripted model with ``max_tokens``: a call's worst case is known exactly."""

    max_tokens: int = 100


OUT_ONLY = {"scripted": (0.0, 1000.0)}
"""Output tokens only: a call's worst case is 100 tokens x 1000 USD/M = 0.1 USD."""
