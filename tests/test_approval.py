"""Approval of delegations and tools: only an explicit approval runs anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from subagents import Agent, DelegationResult, SpecError, Status, compile_agent
from subagents.nodes._approval import APPROVE_WORDS, approval_decision
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]


def lead_policy(tool_call: Any) -> Any:
    """The lead delegates ``tool_call`` once, then answers with every tool result it got."""

    def policy(messages: list, agent: str | None) -> AIMessage:
        if agent != "lead":
            task = next(m for m in messages if isinstance(m, HumanMessage)).content
            return ai(f"did: {task}")
        if isinstance(messages[-1], HumanMessage):
            return ai(tool_call)
        return ai(" || ".join(str(m.content) for m in messages if isinstance(m, ToolMessage)))

    return policy


def lead(tool_call: Any, **fields: Any) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=lead_policy(tool_call))
    worker = Agent(name="worker", description="Works.")
    return Agent(name="lead", model=model, subagents=[worker], **fields), model


def result_of(out: dict[str, Any]) -> DelegationResult:
    return DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))


async def paused(
        agent: Agent, thread: str, *, checkpointer: Any) -> tuple[Any, dict[str, Any], Any]:
    graph = compile_agent(agent, checkpointer=checkpointer)
    cfg = {"configurable": {"thread_id": thread}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    (pending,) = out["__interrupt__"]
    return graph, cfg, pending


async def test_a_delegation_waits_for_approval_and_runs_after_it(async_saver: Saver) -> None:
    agent, model = lead(call("task", agent="worker", objective="clean tmp"),
                        needs_approval=("task",))
    graph, cfg, pending = await paused(agent, "ap-1", checkpointer=async_saver)
    assert pending.value["agent"] == "worker" and pending.value["objective"] == "clean tmp"
    assert pending.value["path"] == ["lead", "worker"] and pending.value["tool"] == "task"
    assert pending.value["kind"] == "delegation"
    assert model.calls_by("worker") == []
    out = await graph.ainvoke(Command(resume="approve"), cfg)
    assert result_of(out).status is Status.COMPLETED
    assert result_of(out).result == "did: clean tmp"


@pytest.mark.parametrize("answer", [False, "no", {"approved": "false"},
                                    {"approved": False, "reason": "not today"}, "maybe later"])
async def test_a_rejected_delegation_never_runs_and_the_parent_reads_why(
        answer: Any, async_saver: Saver) -> None:
    agent, model = lead(call("task", agent="worker", objective="clean tmp"),
                        needs_approval=("task",))
    graph, cfg, _ = await paused(agent, f"ap-rej-{answer!r}", checkpointer=async_saver)
    out = await graph.ainvoke(Command(resume=answer), cfg)
    res = result_of(out)
    assert model.calls_by("worker") == []
    assert res.status is Status.FAILED and "Rejected by a human" in str(res.error)
    if isinstance(answer, dict) and answer.get("reason"):
        assert "not today" in str(res.error)
    if answer in ("maybe later", {"approved": "false"}):
        assert "not understood" in str(res.error)


async def test_an_edited_objective_is_what_the_child_gets(async_saver: Saver) -> None:
    agent, model = lead(call("task", agent="worker", objective="delete everything"),
                        needs_approval=("task",))
    graph, cfg, _ = await paused(agent, "ap-edit", checkpointer=async_saver)
    out = await graph.ainvoke(Command(resume={"action": "edit", "objective": "delete tmp"}), cfg)
    assert result_of(out).result == "did: delete tmp"
    (child_call,) = model.calls_by("worker")
    assert "delete everything" not in str(child_call.messages)


async def test_an_edit_may_not_retarget_the_delegation(async_saver: Saver) -> None:
    agent, model = lead(call("task", agent="worker", objective="x"), needs_approval=("task",))
    graph, cfg, _ = await paused(agent, "ap-edit-agent", checkpointer=async_saver)
    out = await graph.ainvoke(Command(resume={"action": "edit", "args": {"agent": "lead"}}),
                              cfg)
    assert result_of(out).status is Status.FAILED and "may not change agent" in str(
        result_of(out).error)
    assert model.calls_by("worker") == []


@pytest.mark.parametrize(("background", "runs"), [(False, True), (True, False)])
async def test_an_edit_that_echoes_the_requests_background_flag_runs(
        async_saver: Saver, background: bool, runs: bool) -> None:
    """The request shows ``background: false`` for a foreground call: echoing it is no change."""
    agent, model = lead(call("task", agent="worker", objective="x"), needs_approval=("task",))
    graph, cfg, _ = await paused(agent, f"ap-edit-bg-{background}", checkpointer=async_saver)
    edit = {"action": "edit", "args": {"objective": "y", "background": background}}
    out = await graph.ainvoke(Command(resume=edit), cfg)
    if runs:
        assert result_of(out).result == "did: y"
    else:
        assert "may not change background" in str(result_of(out).error)
        assert model.calls_by("worker") == []


async def test_per_agent_tools_and_background_calls_wait_too(async_saver: Saver) -> None:
    agent, model = lead(call("task_worker", objective="bg work", background=True),
                        delegation="per_agent", needs_approval=("task_worker",),
                        background=True)
    graph, cfg, pending = await paused(agent, "ap-bg", checkpointer=async_saver)
    assert pending.value["background"] is True and pending.value["tool"] == "task_worker"
    assert model.calls_by("worker") == []
    out = await graph.ainvoke(Command(resume={"action": "reject", "reason": "later"}), cfg)
    res = result_of(out)
    assert res.status is Status.FAILED and "later" in str(res.error)
    assert model.calls_by("worker") == []


async def test_several_background_calls_are_all_answered_before_any_starts(
        async_saver: Saver) -> None:
    calls = [call("task", agent="worker", objective=f"job {i}", background=True)
             for i in range(2)]
    model = ScriptedChatModel(policy=lambda m, a: ai(*calls) if a == "lead" and isinstance(
        m[-1], HumanMessage) else ai("ok"))
    agent = Agent(name="lead", model=model, subagents=[Agent(name="worker")],
                  needs_approval=("task",), background=True)
    graph = compile_agent(agent, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "ap-batch"}}
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    first = out["__interrupt__"]
    out = await graph.ainvoke(Command(resume={first[0].id: True}), cfg)
    assert model.calls_by("worker") == []  # the first approved child waits for the second
    second = out["__interrupt__"]
    assert second[0].value["objective"] == "job 1"
    out = await graph.ainvoke(Command(resume={second[0].id: "no"}), cfg)
    results = [json.loads(str(m.content)) for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [r["status"] for r in results] == ["running", "failed"]


def test_sync_run_delegation_approval(saver: Saver) -> None:
    agent, _model = lead(call("task", agent="worker", objective="sync job"),
                        needs_approval=("task",))
    graph = compile_agent(agent, checkpointer=saver)
    cfg = {"configurable": {"thread_id": "ap-sync"}}
    out = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    assert out["__interrupt__"][0].value["objective"] == "sync job"
    out = graph.invoke(Command(resume={"approved": True}), cfg)
    assert result_of(out).result == "did: sync job"


@tool
def shred(path: str) -> str:
    """Shred a file."""
    return f"shredded {path}"


def test_a_name_that_is_no_tool_of_the_agent_is_a_spec_error() -> None:
    model = ScriptedChatModel(policy=lambda m, a: ai("x"))
    with pytest.raises(SpecError, match=r"'needs_approval'.*'shredder'"):
        compile_agent(Agent(name="a", model=model, tools=[shred], needs_approval=("shredder",)))
    with pytest.raises(SpecError, match="'task'"):  # no sub-agents: no task tool
        compile_agent(Agent(name="a", model=model, needs_approval=("task",)))
    with pytest.raises(SpecError, match="'agent_cancel'"):  # no background: no lifecycle
        compile_agent(Agent(name="a", model=model, subagents=[Agent(name="b")],
                            needs_approval=("agent_cancel",)))
    per_agent = Agent(name="a", model=model, subagents=[Agent(name="b")], delegation="per_agent",
                      needs_approval=("task",))
    with pytest.raises(SpecError, match="task_b"):
        compile_agent(per_agent)
    compile_agent(Agent(name="a", model=model, tools=[shred], subagents=[Agent(name="b")],
                        background=True, needs_approval=("shred", "task", "agent_cancel")))


async def test_a_lifecycle_tool_in_needs_approval_waits_too(async_saver: Saver) -> None:
    agent, _model = lead(call("agent_cancel", id="bg_x"), background=True,
                        needs_approval=("agent_cancel",))
    graph, cfg, pending = await paused(agent, "ap-life", checkpointer=async_saver)
    assert pending.value["tool"] == "agent_cancel" and pending.value["kind"] == "tool"
    assert pending.value["path"] == ["lead"] and pending.value["agent"] == "lead"
    out = await graph.ainvoke(Command(resume="deny"), cfg)
    text = next(m for m in out["messages"] if isinstance(m, ToolMessage)).content
    assert "Rejected by a human" in str(text)


APPROVING = [True, "approve", "Approved", " yes ", "OK", {"approved": True},
             {"approved": True, "reason": "fine"}, {"action": "approve"},
             {"action": "Approved"}]
REJECTING = [False, None, "no", "reject", "Denied", {"approved": False},
             {"action": "reject", "reason": "r"}, {"approved": False, "message": "r"}]
NOT_UNDERSTOOD = ["false", "true", "nope", "", 1, 0, 1.0, [True], ["approve"], {},
                  {"approved": "false"}, {"approved": "true"}, {"approved": 1},
                  {"approved": "no"}, {"action": "yes please"}, {"action": True},
                  {"approved": True, "action": "reject"}, {"action": "edit"},
                  {"action": "edit", "args": "x"}, {"action": "edit", "objective": 3}]


@pytest.mark.parametrize("value", APPROVING)
def test_documented_approvals_approve(value: Any) -> None:
    decision = approval_decision(value)
    assert decision.approved and decision.edits == {}


@pytest.mark.parametrize("value", REJECTING)
def test_documented_rejections_reject_with_their_reason(value: Any) -> None:
    decision = approval_decision(value)
    assert not decision.approved
    assert decision.reason == ("r" if isinstance(value, dict) and len(value) > 1 else "")


@pytest.mark.parametrize("value", NOT_UNDERSTOOD)
def test_anything_else_rejects_as_not_understood(value: Any) -> None:
    decision = approval_decision(value)
    assert not decision.approved and "not understood" in decision.reason


def test_edits() -> None:
    assert approval_decision({"action": "edit", "objective": "y"}).edits == {"objective": "y"}
    assert approval_decision({"action": "edit", "args": {"query": "q"}}).edits == {"query": "q"}


def _documented(value: Any) -> bool:
    """The documented approve and edit forms (the module docstring of nodes._approval)."""
    if value is True:
        return True
    if isinstance(value, str):
        return value.strip().lower() in APPROVE_WORDS
    if not isinstance(value, dict):
        return False
    if "action" not in value:
        return value.get("approved") is True
    action = value["action"]
    if "approved" in value or not isinstance(action, str):
        return False
    return action.strip().lower() in ("approve", "approved") or (
        action.strip().lower() == "edit" and ("objective" in value or "args" in value))


words = st.sampled_from([*APPROVE_WORDS, "approve ", "TRUE", "true", "false", "no", "edit",
                         "reject", "1", "y"])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | words
keys = st.sampled_from(["approved", "action", "reason", "objective", "args"]) | st.text(
    max_size=4)
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(keys, inner, max_size=4), max_leaves=10)


@settings(max_examples=800, deadline=None)
@given(json_like)
def test_no_value_outside_the_documented_set_approves(value: Any) -> None:
    decision = approval_decision(value)
    if decision.approved:
        assert _documented(value), value
    else:
        assert isinstance(decision.reason, str)


async def test_an_edit_of_an_own_tool_call_rejects_it(async_saver: Saver) -> None:
    shredded: list[str] = []

    @tool
    def shred_file(path: str) -> str:
        """Shred a file."""
        shredded.append(path)
        return "shredded"

    model = ScriptedChatModel(policy=lambda m: ai(call("shred_file", path="a.txt"))
                              if isinstance(m[-1], HumanMessage) else ai(str(m[-1].content)))
    agent = Agent(name="ops", model=model, tools=[shred_file], needs_approval=("shred_file",))
    graph, cfg, _ = await paused(agent, "ap-tool-edit", checkpointer=async_saver)
    out = await graph.ainvoke(Command(resume={"action": "edit", "args": {"path": "b.txt"}}), cfg)
    assert shredded == []
    assert "edits apply to delegations only" in out["messages"][-1].content
