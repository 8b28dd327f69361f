"""A retry never waits past an enclosing budget's ``max_seconds`` deadline.

The ordinary thing: a root with ``Budget(max_seconds=...)`` delegates to a child whose
``RetryPolicy`` backs off for longer than the time left. The wait would outlive the deadline
(the run took the whole back-off, then reported ``over_budget``); now the retry is not made:
the delegation ends at once with the failed attempt's ending, its error saying why, and the
parent goes on within its budget. A back-off that fits is still waited and retried.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.types import RetryPolicy

from subagents import Agent, Budget, DelegationResult, Status, compile_agent, observe
from subagents.events import SubagentRetry
from subagents.nodes.retry import Wait
from subagents.testing import ScriptedChatModel, ai, call

LONG = RetryPolicy(max_attempts=3, initial_interval=3600, max_interval=3600, jitter=False,
                   retry_on=RuntimeError)
"""A back-off of an hour: a test that waited it would hang the suite."""


class Flake:
    """A child model that raises at its first ``fails`` calls, then answers."""

    def __init__(self, fails: int = 1) -> None:
        self.calls, self.fails = 0, fails

    def __call__(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError("down")
        return ai("fixed")


def team(child: Flake, retry: RetryPolicy, budget: Budget | None) -> Agent:
    worker = Agent(name="w", model=ScriptedChatModel(policy=child), retry=retry)
    root_model = ScriptedChatModel(steps={"root": [
        ai(call("task", agent="w", objective="x")), ai("fin")]})
    return Agent(name="root", model=root_model, subagents=[worker], budget=budget)


def delegation(out: dict[str, Any]) -> DelegationResult:
    (msg,) = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == "task"]
    return DelegationResult.from_message(msg)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept (a regression fails, not hangs)."""
    asked: list[float] = []

    async def arun(self: Wait) -> None:
        asked.append(self.seconds)

    monkeypatch.setattr(Wait, "run", lambda self: asked.append(self.seconds))
    monkeypatch.setattr(Wait, "arun", arun)
    return asked


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_a_back_off_past_the_budget_deadline_is_not_waited(
        mode: str, waits: list[float]) -> None:
    child = Flake()
    graph = compile_agent(team(child, LONG, Budget(max_seconds=60)))
    events: list[Any] = []
    _, cfg = observe(on_event=events.append)
    inputs = {"messages": [HumanMessage("go")]}
    out = await graph.ainvoke(inputs, cfg) if mode == "async" else graph.invoke(inputs, cfg)
    res = delegation(out)
    assert (res.status, res.attempts, child.calls) == (Status.FAILED, 1, 1)
    assert res.errors == ["RuntimeError: down"]
    assert res.error is not None and res.error.startswith("RuntimeError: down (not retried")
    assert "max_seconds=60 deadline" in res.error
    assert not [e for e in events if isinstance(e, SubagentRetry)] and waits == []
    assert out["messages"][-1].content == "fin"  # the parent went on


@pytest.mark.parametrize("budget", [None, Budget(max_seconds=600)], ids=["none", "fits"])
async def test_a_back_off_within_the_deadline_is_retried(budget: Budget | None,
                                                        waits: list[float]) -> None:
    child = Flake()
    policy = RetryPolicy(max_attempts=3, initial_interval=30, jitter=False, retry_on=RuntimeError)
    out = await compile_agent(team(child, policy, budget)).ainvoke(
        {"messages": [HumanMessage("go")]})
    res = delegation(out)
    assert (res.status, res.result, res.attempts, child.calls) == (
        Status.COMPLETED, "fixed", 2, 2)
    assert waits == [30]

