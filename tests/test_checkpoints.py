"""Semantics 7: SQLite and in-memory savers; a resumed run re-runs no finished delegation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import EmptyInputError
from langgraph.types import Command

from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.checkpoints import async_sqlite_saver, memory_saver
from subagents.errors import NothingToResume
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]


class Crash(BaseException):
    """A process-level failure: not an Exception, so nothing in the runtime catches it."""


class FlakyRoot:
    """Policy: root delegates to a, b and c in one turn; the first attempt of `fail_in` crashes."""

    def __init__(self, fail_in: str) -> None:
        self.fail_in, self.crashed = fail_in, False

    def __call__(self, messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if agent == "root":
            if isinstance(last, HumanMessage):
                return ai(*[call("task", agent=n, objective=f"job for {n}") for n in "abc"])
            if self.fail_in == "root" and not self.crashed:
                self.crashed = True
                raise Crash("root died after the delegations")
            tool_texts = [m for m in messages if isinstance(m, ToolMessage)]
            return ai(" | ".join(f"{m.tool_call_id}={m.content}" for m in tool_texts))
        if agent == self.fail_in and not self.crashed:
            self.crashed = True
            raise Crash(f"{agent} died mid-run")
        return ai(f"answer of {agent} to {messages[-1].content}")


def team(model: ScriptedChatModel) -> Agent:
    return Agent(name="root", model=model, subagents=[Agent(name=n) for n in "abc"])


@pytest.mark.savers("memory", "sqlite", "postgres")
@pytest.mark.parametrize("fail_in", ["root", "b"])
def test_resume_reruns_no_finished_delegation(saver: Saver, fail_in: str) -> None:
    model = ScriptedChatModel(policy=FlakyRoot(fail_in))
    cfg = {"configurable": {"thread_id": "t1"}}
    graph = compile_agent(team(model), checkpointer=saver)
    with pytest.raises(Crash):
        graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    before = {n: len(model.calls_by(n)) for n in "abc"}
    out = graph.invoke(None, cfg)
    after = {n: len(model.calls_by(n)) for n in "abc"}
    for name in "abc":
        reran = after[name] - before[name]
        assert reran == (1 if name == fail_in or before[name] == 0 else 0), (name, before, after)
    # every result is attached to the call that asked for it
    asks = {tc["id"]: tc["args"]["agent"] for tc in out["messages"][1].tool_calls}
    for msg in out["messages"]:
        if isinstance(msg, ToolMessage):
            res = DelegationResult.from_message(msg)
            assert res.status is Status.COMPLETED
            assert res.result == f"answer of {asks[msg.tool_call_id]} to job for {res.agent}"
            assert res.agent == asks[msg.tool_call_id]


async def test_async_sqlite_saver_round_trip(tmp_path: Path) -> None:
    c = call("task", agent="a", objective="x")
    model = ScriptedChatModel(steps={"root": [ai(c), ai("fin")], "a": [ai("ax")]})
    cfg = {"configurable": {"thread_id": "t2"}}
    async with async_sqlite_saver(tmp_path / "deep" / "cp.sqlite") as saver:
        graph = compile_agent(team(model), checkpointer=saver)
        await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
        state = await graph.aget_state(cfg)
        mode = await (await saver.conn.execute("PRAGMA journal_mode")).fetchone()
    assert mode[0] == "wal"
    assert [type(m).__name__ for m in state.values["messages"]] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]


@pytest.mark.savers("memory", "sqlite", "postgres")
async def test_cancelled_child_resumes_from_its_checkpoint(async_saver: Saver) -> None:
    c = call("task", agent="a", objective="x")
    a_answered = asyncio.Event()

    def first_of_a(messages: list) -> AIMessage:
        a_answered.set()
        return ai(call("task", agent="z", objective="q"))

    model = ScriptedChatModel(latency=0.05, steps={
        "root": [ai(c), ai("fin")], "a": [first_of_a, ai("ax")]})
    graph = compile_agent(team(model), checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "t3"}}
    task = asyncio.create_task(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg))
    await asyncio.wait_for(a_answered.wait(), timeout=10)  # its second call is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    out = await graph.ainvoke(None, cfg)
    assert out["messages"][-1].content == "fin"
    assert len(model.calls_by("a")) == 2


async def test_resuming_a_run_cancelled_before_its_first_checkpoint_says_so() -> None:
    model = ScriptedChatModel(steps=[ai("fin")])
    graph = compile_agent(team(model), checkpointer=memory_saver())
    cfg = {"configurable": {"thread_id": "t-early"}}
    task = asyncio.create_task(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg))
    task.cancel()  # before it ran a step: no checkpoint saved
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(NothingToResume, match="nothing to resume on thread 't-early'") as err:
        await graph.ainvoke(None, cfg)
    assert err.value.thread_id == "t-early"
    assert isinstance(err.value, EmptyInputError)  # what LangGraph raised before, still caught
    with pytest.raises(NothingToResume, match="'never-ran'"):
        graph.invoke(None, {"configurable": {"thread_id": "never-ran"}})
    with pytest.raises(NothingToResume, match="'t-early'"):  # LangGraph: an empty new run
        await graph.ainvoke(Command(resume="yes"), cfg)
    with pytest.raises(NothingToResume, match="'t-early'"):
        graph.invoke(Command(resume="yes"), cfg)
    assert model.calls == []
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)  # a fresh start works
    assert out["messages"][-1].content == "fin"


@pytest.mark.parametrize("config", [None, {}, {"configurable": {}}, "observed"])
async def test_a_run_without_a_thread_on_a_checkpointer_raises_a_typed_error(
        config: Any) -> None:
    """LangGraph's own check is hidden once the run scope is in the config: ours says it."""
    from subagents.errors import MissingThreadId
    from subagents.runtime.observe import observe

    graph = compile_agent(Agent(name="root", model=ScriptedChatModel(policy=lambda m: ai("hi"))),
                          checkpointer=memory_saver())
    cfg = observe()[1] if config == "observed" else config
    for inputs in ({"messages": [HumanMessage("go")]}, None, Command(resume="yes")):
        with pytest.raises(MissingThreadId, match="thread_id"):
            graph.invoke(inputs, cfg)
        with pytest.raises(ValueError, match="thread_id"):
            await graph.ainvoke(inputs, cfg)
    out = await graph.ainvoke({"messages": [HumanMessage("go")]},
                              {"configurable": {"thread_id": "t"}})
    assert out["messages"][-1].content == "hi"
