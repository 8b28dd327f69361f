"""Persistent sub-agents: one history per parent thread, isolated, serialised, crash-safe."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel

from subagents import Agent, DelegationResult, SpecError, Status, compile_agent
from subagents.checkpoints.threads import persistent_thread_id
from subagents.testing import ScriptedChatModel, ai, call

# every test that runs a graph runs on each saver (conftest's saver / async_saver)
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")
Saver = BaseCheckpointSaver[Any]


def memo_policy(messages: list, agent: str | None) -> AIMessage:
    """Children answer with every task they have seen so far (their history)."""
    if agent == "root":
        last = messages[-1]
        if isinstance(last, HumanMessage):
            targets = str(last.content).split()
            return ai(*[call("task", agent=t.split(":")[0], objective=t) for t in targets])
        return ai(" | ".join(str(m.content) for m in messages if isinstance(m, ToolMessage)))
    seen = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return ai(f"{agent} saw {seen}")


def results(out: dict) -> list[DelegationResult]:
    return [DelegationResult.from_message(m) for m in out["messages"]
            if isinstance(m, ToolMessage)]


def team(*, persistent: bool = True, **extra: object) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=memo_policy)
    kids = [Agent(name=n, persistent=persistent, **extra) for n in ("notes", "other")]
    return Agent(name="root", model=model, subagents=kids), model


async def ask(graph: object, text: str, thread: str) -> list[DelegationResult]:
    cfg = {"configurable": {"thread_id": thread}}
    return results(await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg))  # type: ignore[attr-defined]


async def test_history_continues_per_parent_thread_and_default_is_fresh(
        async_saver: Saver) -> None:
    root, _ = team()
    graph = compile_agent(root, checkpointer=async_saver)
    await ask(graph, "notes:one", "t1")
    (second,) = (await ask(graph, "notes:two", "t1"))[-1:]
    assert second.result == "notes saw ['notes:one', 'notes:two']"
    (other_thread,) = await ask(graph, "notes:three", "t2")
    assert other_thread.result == "notes saw ['notes:three']"
    fresh_root, _ = team(persistent=False)
    fresh = compile_agent(fresh_root, checkpointer=async_saver)
    await ask(fresh, "notes:one", "f1")
    (again,) = (await ask(fresh, "notes:two", "f1"))[-1:]
    assert again.result == "notes saw ['notes:two']"


async def test_two_persistent_agents_in_one_turn_never_share_history(
        async_saver: Saver) -> None:
    root, _ = team()
    graph = compile_agent(root, checkpointer=async_saver)
    await ask(graph, "notes:a other:b", "t1")
    res = (await ask(graph, "notes:c other:d", "t1"))[-2:]
    assert sorted(str(r.result) for r in res) == [
        "notes saw ['notes:a', 'notes:c']", "other saw ['other:b', 'other:d']"]


async def test_concurrent_calls_to_one_persistent_agent_are_serialised(
        async_saver: Saver) -> None:
    root, _ = team()
    graph = compile_agent(root, checkpointer=async_saver)
    res = await ask(graph, "notes:x1 notes:x2 notes:x3", "t1")
    seen_counts = sorted(str(r.result).count("notes:") for r in res)
    assert seen_counts == [1, 2, 3]  # each call saw all earlier ones: no update lost
    child_cfg = {"configurable": {"thread_id": persistent_thread_id("t1", "notes")}}
    tuples = [t async for t in async_saver.alist(child_cfg)]
    latest = tuples[0].checkpoint["channel_values"]["messages"]
    tasks = [m.content for m in latest if isinstance(m, HumanMessage)]
    assert sorted(tasks) == ["notes:x1", "notes:x2", "notes:x3"]
    assert len({m.id for m in latest}) == len(latest)


def test_sync_invoke(saver: Saver) -> None:
    root, _ = team()
    graph = compile_agent(root, checkpointer=saver)
    cfg = {"configurable": {"thread_id": "s1"}}
    graph.invoke({"messages": [HumanMessage("notes:one")]}, cfg)
    out = graph.invoke({"messages": [HumanMessage("notes:two")]}, cfg)
    assert results(out)[-1].result == "notes saw ['notes:one', 'notes:two']"


def test_no_checkpointer_anywhere_is_a_spec_error() -> None:
    root, _ = team()
    with pytest.raises(SpecError, match="persistent sub-agent needs a checkpointer"):
        compile_agent(root)


async def test_persistence_factory_puts_history_elsewhere(async_saver: Saver) -> None:
    elsewhere = async_saver

    def factory(agent: Agent, config: dict) -> tuple[object, str]:
        return elsewhere, f"mem-{agent.name}"

    root, _ = team(persistence=factory)
    graph = compile_agent(root)  # no checkpointer for the root: the factory has one
    cfg = {"configurable": {"thread_id": "ignored"}}
    await graph.ainvoke({"messages": [HumanMessage("notes:one")]}, cfg)
    out = await graph.ainvoke({"messages": [HumanMessage("notes:two")]}, cfg)
    assert results(out)[-1].result == "notes saw ['notes:one', 'notes:two']"
    stored = await elsewhere.aget_tuple({"configurable": {"thread_id": "mem-notes"}})
    assert stored is not None


async def test_detached_children_do_not_pollute_parent_streams(async_saver: Saver) -> None:
    root, _ = team()
    graph = compile_agent(root, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "st"}}
    agents = set()
    async for _ns, (_msg, meta) in graph.astream({"messages": [HumanMessage("notes:one")]}, cfg,
                                               stream_mode="messages", subgraphs=True):
        agents.add(meta.get("lc_agent_name"))
    assert agents == {"root"}


class Crash(BaseException):
    pass


async def test_crash_inside_a_persistent_child_resumes_without_duplicates(
        async_saver: Saver) -> None:
    crash = {"armed": True}

    @tool
    def step(n: int) -> str:
        """One unit of work."""
        if crash["armed"]:
            crash["armed"] = False
            raise Crash("killed mid-child")
        return f"step {n} done"

    def policy(messages: list, agent: str | None) -> AIMessage:
        if agent == "notes" and isinstance(messages[-1], HumanMessage):
            return ai(call("step", n=1))
        return memo_policy(messages, agent)

    model = ScriptedChatModel(policy=policy)
    notes = Agent(name="notes", persistent=True, tools=[step])
    root = Agent(name="root", model=model, subagents=[notes])
    graph = compile_agent(root, checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "c1"}}
    with pytest.raises(Crash):
        await graph.ainvoke({"messages": [HumanMessage("notes:one")]}, cfg)
    assert len(model.calls_by("notes")) == 1
    out = await graph.ainvoke(None, cfg)
    assert len(model.calls_by("notes")) == 2  # resumed at the tool, not restarted
    assert results(out)[-1].result == "notes saw ['notes:one']"
    child_cfg = {"configurable": {"thread_id": persistent_thread_id("c1", "notes")}}
    latest = (await async_saver.aget_tuple(child_cfg)).checkpoint["channel_values"]["messages"]
    assert [type(m).__name__ for m in latest] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]


def test_a_finished_call_found_in_the_thread_is_answered_not_rerun() -> None:
    from subagents.nodes.persistent import _plan
    from subagents.runtime.call import CallInfo

    task = HumanMessage("first", id="task-c1")
    later = HumanMessage("second", id="task-c2")
    values = {"messages": [task, AIMessage("one"), later, AIMessage("two")]}
    action, done = _plan(values, (), CallInfo("c1", "first"))
    assert action == "done" and done is not None
    assert [m.content for m in done["messages"]] == ["first", "one"]
    assert _plan(values, ("tools",), CallInfo("c2", "second"))[0] == "resume"
    assert _plan(values, (), CallInfo("c3", "third"))[0] == "run"


# --------------------------------------------------------------------------- structured answers


class Note(BaseModel):
    """A structured answer."""

    text: str


def structured_policy(messages: list, agent: str | None) -> AIMessage:
    """The root delegates its task; ``notes`` answers a task starting with "ok" by
    ``final_answer`` and any other task without one."""
    task = str([m for m in messages if isinstance(m, HumanMessage)][-1].content)
    if agent == "root":
        if isinstance(messages[-1], HumanMessage):
            return ai(call("task", agent="notes", objective=task))
        return ai("root done")
    return ai(call("final_answer", text=task)) if task.startswith("ok") else ai("no final answer")


async def test_a_structured_childs_next_task_does_not_inherit_the_last_answer(
        async_saver: Saver) -> None:
    notes = Agent(name="notes", persistent=True, output_schema=Note, max_output_retries=1)
    root = Agent(name="root", model=ScriptedChatModel(policy=structured_policy), subagents=[notes])
    graph = compile_agent(root, checkpointer=async_saver)
    (first,) = await ask(graph, "ok one", "structured")
    assert first.status is Status.COMPLETED and first.result == {"text": "ok one"}
    second = (await ask(graph, "skip two", "structured"))[-1]
    assert second.status is Status.FAILED and second.result == "no final answer"
    third = (await ask(graph, "ok three", "structured"))[-1]
    assert third.result == {"text": "ok three"}


def test_a_structured_roots_next_turn_does_not_inherit_the_last_answer(saver: Saver) -> None:
    model = ScriptedChatModel(policy=lambda m, a: structured_policy(m, "notes"))
    graph = compile_agent(Agent(name="root", model=model, output_schema=Note,
                                max_output_retries=1), checkpointer=saver)
    cfg = {"configurable": {"thread_id": "structured-root"}}
    out = graph.invoke({"messages": [HumanMessage("ok one")]}, cfg)
    assert out["structured_response"] == Note(text="ok one")
    out = graph.invoke({"messages": [HumanMessage("skip two")]}, cfg)
    assert out.get("structured_response") is None and out["usage"]["status"] == "failed"
