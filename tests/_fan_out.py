"""A fan-out script shared by the budget tests: a root sends WORKERS workers at once."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage

from subagents.testing import ai, call

__all__ = ["WORKERS", "fan_out_policy"]

WORKERS = 4


def fan_out_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """The root sends WORKERS workers in one reply; each worker calls ``probe`` forever."""
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root":
        if turns == 0:
            return ai(*[call("task", agent="worker", objective=f"job {i}")
                        for i in range(WORKERS)])
        return ai("root done")
    return ai(call("probe", n=turns))
