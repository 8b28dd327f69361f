"""Persistent sub-agents as full citizens: interrupts, configurable and runtime context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.runtime import get_runtime
from langgraph.types import Command, interrupt

from subagents import Agent, DelegationResult, compile_agent, needs_approval
from subagents.checkpoints.threads import persistent_thread_id
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")

answered: list[str] = []
deleted: list[str] = []


@tool
def ask_human(question: str) -> str:
    """Ask the human a question."""
    answer = str(interrupt({"question": question}))
    answered.append(answer)
    return answer


@tool
def delete_file(path: str) -> str:
    """Delete a file (dangerous)."""
    deleted.append(path)
    return f"deleted {path}"


def policy(messages: list, agent: str | None) -> AIMessage:
    last = messages[-1]
    if agent == "root":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="asker", objective=str(last.content)))
        return ai(f"root: {last.content}")
    if isinstance(last, HumanMessage):
        if "delete" in str(last.content):
            return ai(call("delete_file", path="tmp.txt"))
        return ai(call("ask_human", question=str(last.content)))
    return ai(f"asker got {last.content}")


def team(*, persistent: bool = True) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=policy)
    asker = Agent(name="asker", persistent=persistent,
                  tools=[ask_human, needs_approval(delete_file)])
    return Agent(name="root", model=model, subagents=[asker]), model


def result(out: dict) -> DelegationResult:
    return DelegationResult.from_message(
        [m for m in out["messages"] if isinstance(m, ToolMessage)][-1])


@pytest.mark.parametrize("persistent", [True, False])
async def test_an_interrupt_in_a_child_surfaces_and_resumes_it_once(
        persistent: bool, async_saver: Saver) -> None:
    answered.clear()
    root, model = team(persistent=persistent)
    graph = compile_agent(root, checkpointer=async_saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": f"p-{persistent}"}}
    out = await graph.ainvoke({"messages": [HumanMessage("Which color?")]}, cfg)
    (pending,) = out["__interrupt__"]
    assert pending.value == {"question": "Which color?"}
    assert len(model.calls_by("asker")) == 1 and answered == []
    out = await graph.ainvoke(Command(resume={pending.id: "blue"}), cfg)
    assert result(out).result == "asker got blue"
    assert "asker got blue" in out["messages"][-1].content
    assert answered == ["blue"] and len(model.calls_by("asker")) == 2
    assert len(model.calls_by("root")) == 2


async def test_a_persistent_child_keeps_no_unanswered_call_after_the_resume(
        async_saver: Saver) -> None:
    answered.clear()
    root, _ = team()
    saver = async_saver
    graph = compile_agent(root, checkpointer=saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": "keep"}}
    out = await graph.ainvoke({"messages": [HumanMessage("Which color?")]}, cfg)
    assert out["__interrupt__"][0].value == {"question": "Which color?"}
    await graph.ainvoke(Command(resume="red"), cfg)
    out = await graph.ainvoke({"messages": [HumanMessage("Which size?")]}, cfg)
    await graph.ainvoke(Command(resume="big"), cfg)
    child = {"configurable": {"thread_id": persistent_thread_id("keep", "asker")}}
    saved = await saver.aget_tuple(child)
    assert saved is not None
    kinds = [type(m).__name__ for m in saved.checkpoint["channel_values"]["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"] * 2
    assert answered == ["red", "big"]


def test_an_approval_in_a_persistent_child_names_its_path_sync(saver: Saver) -> None:
    deleted.clear()
    root, model = team()
    graph = compile_agent(root, checkpointer=saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": "approve"}}
    out = graph.invoke({"messages": [HumanMessage("delete it")]}, cfg)
    (pending,) = out["__interrupt__"]
    assert pending.value["path"] == ["root", "asker"] and pending.value["tool"] == "delete_file"
    assert deleted == []
    out = graph.invoke(Command(resume=True), cfg)
    assert deleted == ["tmp.txt"] and result(out).result == "asker got deleted tmp.txt"
    assert len(model.calls_by("asker")) == 2


@dataclass
class Ctx:
    user: str


seen: list[tuple[object, object]] = []


@tool
def whoami(config: RunnableConfig) -> str:
    """Tell who asks."""
    seen.append((config.get("configurable", {}).get("tenant"), get_runtime(Ctx).context))
    return "ok"


@pytest.mark.parametrize("persistent", [True, False])
async def test_configurable_and_context_reach_a_child_tool(
        persistent: bool, async_saver: Saver) -> None:
    seen.clear()

    def who(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return ai("done")
        return ai(call("task", agent="w", objective="who") if agent == "root"
                  else call("whoami"))

    model = ScriptedChatModel(policy=who)
    w = Agent(name="w", persistent=persistent, tools=[whoami])
    graph = compile_agent(Agent(name="root", model=model, subagents=[w]),
                          checkpointer=async_saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": "ctx", "tenant": "acme"}}
    await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg, context=Ctx(user="ann"))
    assert seen == [("acme", Ctx(user="ann"))]


async def test_a_second_call_to_a_paused_persistent_child_is_refused_not_mixed_in(
        async_saver: Saver) -> None:
    answered.clear()

    def twice(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if agent == "root" and isinstance(last, HumanMessage):
            return ai(call("task", agent="asker", objective="Which color?"),
                      call("task", agent="asker", objective="Which size?"))
        return policy(messages, agent)

    model = ScriptedChatModel(policy=twice)
    asker = Agent(name="asker", persistent=True, tools=[ask_human])
    graph = compile_agent(Agent(name="root", model=model, subagents=[asker]),
                          checkpointer=async_saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": "two"}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    (pending,) = out["__interrupt__"]
    out = await graph.ainvoke(Command(resume={pending.id: "teal"}), cfg)
    ends = sorted((r.status.value, str(r.result or r.error)) for r in map(
        DelegationResult.from_message, [m for m in out["messages"] if isinstance(m, ToolMessage)]))
    assert ends[0] == ("completed", "asker got teal")
    assert ends[1][0] == "failed" and "waiting for an answer" in ends[1][1]
    assert answered == ["teal"] and len(model.calls_by("asker")) == 2


@pytest.mark.parametrize("by_id", [True, False])
async def test_a_persistent_grandchild_interrupt_surfaces_through_a_fresh_child(
        by_id: bool, async_saver: Saver) -> None:
    answered.clear()

    def nested(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if agent == "ops":
            return (ai(call("task", agent="asker", objective="Which day?"))
                    if isinstance(last, HumanMessage) else ai(f"ops: {last.content}"))
        if agent == "root" and isinstance(last, HumanMessage):
            return ai(call("task", agent="ops", objective="plan"))
        return policy(messages, agent)

    model = ScriptedChatModel(policy=nested)
    asker = Agent(name="asker", persistent=True, tools=[ask_human])
    ops = Agent(name="ops", subagents=[asker])
    graph = compile_agent(Agent(name="root", model=model, subagents=[ops],
                                max_subagent_depth=2), checkpointer=async_saver)
    cfg: RunnableConfig = {"configurable": {"thread_id": f"nested-{by_id}"}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    (pending,) = out["__interrupt__"]
    assert pending.value == {"question": "Which day?"}
    out = await graph.ainvoke(Command(resume={pending.id: "monday"} if by_id else "monday"),
                              cfg)
    assert "asker got monday" in out["messages"][-1].content
    assert answered == ["monday"]
    assert [len(model.calls_by(a)) for a in ("root", "ops", "asker")] == [2, 2, 2]
