"""Human-in-the-loop at any depth: approval and interrupt() in a sub-agent at depth 2."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, interrupt

from subagents import Agent, DelegationResult, compile_agent, needs_approval
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")

ran: list[str] = []


@tool
def delete_file(path: str) -> str:
    """Delete a file (dangerous)."""
    ran.append(path)
    return f"deleted {path}"


@tool
def ask_human(question: str) -> str:
    """Ask the human a question."""
    return str(interrupt({"question": question}))


def policy(messages: list, agent: str | None) -> AIMessage:
    last = messages[-1]
    if agent == "dev":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="ops", objective="clean up"),
                      call("task", agent="sibling", objective="other work"))
        results = [m.content for m in messages if isinstance(m, ToolMessage)]
        return ai(" || ".join(str(r) for r in results))
    if agent == "ops":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="janitor", objective="delete tmp.txt"))
        return ai(f"ops: {last.content}")
    if agent == "janitor":
        if isinstance(last, HumanMessage):
            return ai(call("delete_file", path="tmp.txt"))
        return ai(f"janitor: {last.content}")
    if agent == "asker":
        if isinstance(last, HumanMessage):
            return ai(call("ask_human", question="Which color?"))
        return ai(f"asker got {last.content}")
    return ai("sibling done")


def team(leaf: Agent) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=policy)
    ops = Agent(name="ops", subagents=[leaf])
    dev = Agent(name="dev", model=model, subagents=[ops, Agent(name="sibling")],
                max_subagent_depth=2)
    return dev, model


async def test_approval_at_depth_two_resumes_only_that_agent(async_saver: Saver) -> None:
    ran.clear()
    dev, model = team(Agent(name="janitor", tools=[needs_approval(delete_file)]))
    graph = compile_agent(dev, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "hitl-1"}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    (pending,) = out["__interrupt__"]
    assert pending.value["path"] == ["dev", "ops", "janitor"]
    assert pending.value["tool"] == "delete_file" and ran == []
    calls_before = {a: len(model.calls_by(a)) for a in ("dev", "sibling", "ops", "janitor")}
    out = await graph.ainvoke(Command(resume={pending.id: True}), cfg)
    assert ran == ["tmp.txt"]
    assert len(model.calls_by("sibling")) == calls_before["sibling"] == 1
    assert len(model.calls_by("ops")) == calls_before["ops"] + 1
    assert len(model.calls_by("janitor")) == calls_before["janitor"] + 1
    assert "janitor: deleted tmp.txt" in out["messages"][-1].content


async def test_rejection_reaches_the_child_model_as_a_tool_result(async_saver: Saver) -> None:
    ran.clear()
    dev, model = team(Agent(name="janitor", tools=[delete_file], needs_approval=["delete_file"]))
    graph = compile_agent(dev, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "hitl-2"}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    out = await graph.ainvoke(Command(resume={"approved": False, "reason": "not today"}), cfg)
    assert ran == []
    last = model.calls_by("janitor")[-1].messages[-1]
    assert isinstance(last, ToolMessage) and last.status == "error"
    assert "Rejected by a human" in str(last.content) and "not today" in str(last.content)
    ops_result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert "Rejected by a human" in str(ops_result.result)


def test_interrupt_inside_a_sub_agent_tool_sync(saver: Saver) -> None:
    def ops_policy(messages: list, agent: str | None) -> AIMessage:
        if agent == "ops" and isinstance(messages[-1], HumanMessage):
            return ai(call("task", agent="asker", objective="ask"))
        return policy(messages, agent)

    model = ScriptedChatModel(policy=ops_policy)
    ops = Agent(name="ops", subagents=[Agent(name="asker", tools=[ask_human])])
    dev = Agent(name="dev", model=model, subagents=[ops, Agent(name="sibling")],
                max_subagent_depth=2)
    graph = compile_agent(dev, checkpointer=saver)
    cfg = {"configurable": {"thread_id": "hitl-3"}}
    out = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    assert out["__interrupt__"][0].value == {"question": "Which color?"}
    out = graph.invoke(Command(resume="blue"), cfg)
    assert "asker got blue" in out["messages"][-1].content
    assert len(model.calls_by("sibling")) == 1
    assert len(model.calls_by("asker")) == 2


async def test_breakpoint_inside_a_sub_agent_via_config(async_saver: Saver) -> None:
    from subagents.nodes.child_call import INTERRUPT_BEFORE_KEY

    ran.clear()
    dev, model = team(Agent(name="janitor", tools=[delete_file]))
    graph = compile_agent(dev, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "bp-1", INTERRUPT_BEFORE_KEY: ["janitor:tools"]}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    assert ran == [] and len(model.calls_by("janitor")) == 1  # paused before its tool node
    state = await graph.aget_state(cfg, subgraphs=True)
    assert state.next  # the root waits inside the delegation
    out = await graph.ainvoke(None, cfg)
    assert ran == ["tmp.txt"]
    assert len(model.calls_by("janitor")) == 2 and len(model.calls_by("sibling")) == 1
    assert "janitor: deleted tmp.txt" in out["messages"][-1].content
