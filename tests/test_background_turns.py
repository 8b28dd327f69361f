"""Background children across turns of one thread (``auto_cancel=False``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents import Agent, BackgroundConfig, compile_agent
from subagents.runtime import parking
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")

gates: dict[str, asyncio.Event] = {}


@tool
async def gate(name: str) -> str:
    """Wait until the test opens the gate ``name``."""
    await gates[name].wait()
    return f"passed {name}"


def worker_policy(messages: list[BaseMessage]) -> AIMessage:
    if isinstance(messages[-1], HumanMessage):
        return ai(call("gate", name=str(messages[-1].content)))
    return ai(f"ok: {messages[-1].content}")


def ids(messages: list[BaseMessage]) -> list[str]:
    return [json.loads(str(m.content))["id"] for m in messages
            if isinstance(m, ToolMessage) and '"running"' in str(m.content)]


def answers(out: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [json.loads(str(m.content)) for m in out["messages"]
            if isinstance(m, ToolMessage) and m.name == name]


def graph_of(turns: list[Any], *, checkpointer: Any, auto_cancel: bool = False) -> Any:
    model = ScriptedChatModel(steps={"root": turns})
    worker = Agent(name="w", model=ScriptedChatModel(policy=worker_policy), tools=[gate])
    root = Agent(name="root", model=model, subagents=[worker],
                 background=BackgroundConfig(auto_cancel=auto_cancel))
    return compile_agent(root, checkpointer=checkpointer)


async def settle() -> None:
    """Wait for the children still running (their gates are open) to end."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await asyncio.gather(*others, return_exceptions=True)


def spawn(*names: str) -> AIMessage:
    return ai(*[call("task", agent="w", objective=n, background=True) for n in names])


def first_id(messages: list[BaseMessage]) -> AIMessage:
    return ai(call("agent_status", id=ids(messages)[0]))


async def test_a_later_turn_awaits_cancels_and_reads_ids_of_an_earlier_turn(
        async_saver: Saver) -> None:
    gates.update(a=asyncio.Event(), b=asyncio.Event())

    def release_and_await(messages: list[BaseMessage]) -> AIMessage:
        gates["a"].set()  # only now: the child of turn 1 is still running in turn 2
        return ai(call("agent_await", ids=ids(messages)[:1]),
                  call("agent_cancel", id=ids(messages)[1]))

    graph = graph_of([spawn("a", "b"), ai("turn 1 done"),
                      first_id, release_and_await, ai("turn 2 done")], checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "turns"}}
    async with asyncio.timeout(10):
        one = await graph.ainvoke({"messages": [HumanMessage("start")]}, cfg)
        a, b = ids(one["messages"])
        assert parking.parked_count("turns") == 1
        two = await graph.ainvoke({"messages": [HumanMessage("and now?")]}, cfg)
    assert answers(two, "agent_status")[-1]["id"] == a
    assert answers(two, "agent_status")[-1]["status"] == "running"
    [awaited] = answers(two, "agent_await")
    assert awaited["status"] == "completed"
    assert awaited["results"] == [{"id": a, "agent": "w", "status": "completed",
                                   "result": "ok: passed a", "error": None}]
    [cancelled] = answers(two, "agent_cancel")
    assert cancelled == {"id": b, "status": "cancelled", "cancelled": True}
    assert parking.parked_count("turns") == 1  # kept again at the end of turn 2
    assert parking.discard("turns") == 1 and parking.parked_count("turns") == 0
    await settle()


async def test_an_id_whose_table_was_dropped_is_unknown_id_naming_why(async_saver: Saver) -> None:
    gates["c"] = asyncio.Event()
    graph = graph_of([spawn("c"), ai("turn 1 done"), first_id, ai("turn 2 done")],
                     checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "dropped"}}
    async with asyncio.timeout(10):
        await graph.ainvoke({"messages": [HumanMessage("start")]}, cfg)
        assert parking.discard("dropped") == 1
        two = await graph.ainvoke({"messages": [HumanMessage("and now?")]}, cfg)
        gates["c"].set()  # the child was not cancelled (auto_cancel=False): let it end
        await settle()
    [status] = answers(two, "agent_status")
    assert status["status"] == "unknown_id" and status["reason"] == "discarded"
    assert "is gone" in status["error"] and "discarded" in status["error"]


async def test_kept_tables_are_bounded_oldest_first(
        monkeypatch: pytest.MonkeyPatch, async_saver: Saver) -> None:
    monkeypatch.setattr(parking, "_MAX_PARKED", 1)
    gates["d"] = asyncio.Event()
    graph = graph_of([spawn("d"), ai("1 done"), spawn("d"), ai("2 done"), first_id, ai("3")],
                     checkpointer=async_saver)
    old, new = {"configurable": {"thread_id": "old"}}, {"configurable": {"thread_id": "new"}}
    async with asyncio.timeout(10):
        await graph.ainvoke({"messages": [HumanMessage("start")]}, old)
        await graph.ainvoke({"messages": [HumanMessage("start")]}, new)
        assert (parking.parked_count("old"), parking.parked_count("new")) == (0, 1)
        three = await graph.ainvoke({"messages": [HumanMessage("and now?")]}, old)
        gates["d"].set()
        parking.discard("new")
        await settle()
    [status] = answers(three, "agent_status")
    assert status["status"] == "unknown_id" and status["reason"] == "evicted"


async def test_auto_cancel_still_ends_a_turn_with_its_children(async_saver: Saver) -> None:
    gates["e"] = asyncio.Event()
    graph = graph_of([spawn("e"), ai("turn 1 done"), first_id, ai("turn 2 done")],
                     auto_cancel=True, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "auto"}}
    async with asyncio.timeout(10):
        await graph.ainvoke({"messages": [HumanMessage("start")]}, cfg)
        assert parking.parked_count("auto") == 0
        two = await graph.ainvoke({"messages": [HumanMessage("and now?")]}, cfg)
    [status] = answers(two, "agent_status")
    assert status["status"] == "failed" and status["reason"] == "another_run"
