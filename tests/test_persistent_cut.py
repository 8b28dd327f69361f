"""A persistent child cut short mid tool call keeps a history a chat API accepts.

The ordinary thing: an async persistent sub-agent is cancelled at its ``Agent.timeout`` while
one of its tools runs; the next delegation to it (or the retry's next attempt) must send a
history in which every tool call has its result, as OpenAI-style APIs require.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import RetryPolicy

from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.checkpoints.threads import persistent_thread_id
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")


def strict_history(messages: list[BaseMessage]) -> None:
    """Raise as a chat API does when a tool call has no result before the next message."""
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage) and m.tool_calls:
            after = messages[i + 1:i + 1 + len(m.tool_calls)]
            answered = {r.tool_call_id for r in after if isinstance(r, ToolMessage)}
            missing = [tc["id"] for tc in m.tool_calls if tc["id"] not in answered]
            if missing:
                raise ValueError(f"tool calls without results: {missing}")


class Worker:
    """Calls ``wait`` for each new task (the first one hangs), then answers."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.hung = 0
        self.seen: list[list[BaseMessage]] = []

    def __call__(self, messages: list[BaseMessage]) -> AIMessage:
        strict_history(messages)
        self.seen.append(list(messages))
        if isinstance(messages[-1], HumanMessage):
            return ai(call("wait", what=str(messages[-1].content)))
        return ai(f"done {messages[-1].content}")

    def tool(self) -> Any:
        worker = self

        @tool
        async def wait(what: str) -> str:
            """Wait for something."""
            worker.hung += 1
            if worker.hung == 1:
                await worker.gate.wait()  # never set: only the timeout ends it
            return f"waited for {what}"

        return wait


def results(out: dict[str, Any]) -> list[DelegationResult]:
    return [DelegationResult.from_message(m) for m in out["messages"]
            if isinstance(m, ToolMessage) and m.name == "task"]


def team(worker: Worker, retry: RetryPolicy | None, objectives: list[str]) -> Agent:
    child = Agent(name="w", model=ScriptedChatModel(policy=worker), tools=[worker.tool()],
                  persistent=True, timeout=0.3, retry=retry)
    steps: list[Any] = [ai(call("task", agent="w", objective=o)) for o in objectives]
    root_model = ScriptedChatModel(steps={"root": [*steps, ai("fin")]})
    return Agent(name="root", model=root_model, subagents=[child])


async def test_the_next_delegation_answers_the_cut_tool_call_first(async_saver: Saver) -> None:
    worker = Worker()
    graph = compile_agent(team(worker, None, ["a", "b"]), checkpointer=async_saver)
    out = await graph.ainvoke({"messages": [HumanMessage("go")]},
                              {"configurable": {"thread_id": "cut"}})
    first, second = results(out)
    assert (first.status, second.status, second.result) == (
        Status.TIMEOUT, Status.COMPLETED, "done waited for b")
    kept = await graph.aget_state({"configurable": {
        "thread_id": persistent_thread_id("cut", "w")}})
    history = kept.values["messages"]
    strict_history(history)
    (cut,) = [m for m in history if isinstance(m, ToolMessage) and m.status == "error"]
    assert "cut short" in str(cut.content)
    assert history.index(cut) + 1 == next(i for i, m in enumerate(history)
                                          if isinstance(m, HumanMessage) and m.content == "b")


async def test_a_retry_after_a_timeout_mid_tool_call_sends_a_valid_history(
        async_saver: Saver) -> None:
    worker = Worker()
    retry = RetryPolicy(max_attempts=2, initial_interval=0, jitter=False)
    graph = compile_agent(team(worker, retry, ["a"]), checkpointer=async_saver)
    out = await graph.ainvoke({"messages": [HumanMessage("go")]},
                              {"configurable": {"thread_id": "cut-retry"}})
    (res,) = results(out)
    assert (res.status, res.result, res.attempts) == (Status.COMPLETED, "done waited for a", 2)
    assert "timeout" in res.errors[0]
