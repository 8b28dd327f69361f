"""Deleting a conversation deletes its sub-agents' threads (``subagents.checkpoints``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents import Agent, BackgroundConfig, compile_agent
from subagents.checkpoints import adelete_thread, delete_thread, thread_family
from subagents.checkpoints.threads import persistent_thread_id
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]


def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """root -> notes (persistent) -> deep (persistent); root -> w in the background."""
    if agent in ("w", "deep"):
        return ai(f"{agent} answer")
    results = [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]
    if agent == "notes":
        return ai("notes answer") if results else ai(call("task", agent="deep", objective="d"))
    if not results:
        return ai(call("task", agent="notes", objective="n"),
                  call("task", agent="w", objective="x", background=True))
    started = [r["id"] for r in results if r.get("status") == "running"]
    return ai(call("agent_await", ids=started)) if len(results) == 2 else ai("end")


def root() -> Agent:
    deep = Agent(name="deep", persistent=True)
    notes = Agent(name="notes", persistent=True, subagents=[deep])
    return Agent(name="root", model=ScriptedChatModel(policy=policy),
                 subagents=[notes, Agent(name="w")], background=BackgroundConfig(),
                 max_subagent_depth=2)


def checkpoints(saver: Saver, thread_id: str) -> int:
    return sum(1 for _ in saver.list({"configurable": {"thread_id": thread_id}}))


@pytest.mark.savers("memory", "sqlite", "postgres")
async def test_deleting_a_conversation_deletes_its_sub_agents_threads(async_saver: Saver) -> None:
    graph = compile_agent(root(), checkpointer=async_saver)
    mine, other = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    for thread in (mine, other, f"{mine}x"):  # "<mine>x" is no sub-agent thread of mine
        await graph.ainvoke({"messages": [HumanMessage("go")]},
                            {"configurable": {"thread_id": thread}})
    notes = persistent_thread_id(mine, "notes")
    family = [t async for t in _family(async_saver, mine)]
    assert mine in family and notes in family
    assert persistent_thread_id(notes, "deep") in family
    assert any(t.startswith(f"{mine}/bg/") for t in family) and len(family) == 4

    assert await adelete_thread(async_saver, mine) == family
    assert [t async for t in _family(async_saver, mine)] == []
    for kept in (other, persistent_thread_id(other, "notes"), f"{mine}x"):
        state = await graph.aget_state({"configurable": {"thread_id": kept}})
        assert state.values["messages"], kept  # other conversations keep their threads
    assert await adelete_thread(async_saver, mine) == []  # nothing left: nothing deleted


async def _family(saver: Saver, thread_id: str) -> Any:
    seen: set[str] = set()
    async for t in saver.alist(None):
        tid = t.config["configurable"]["thread_id"]
        if (tid == thread_id or tid.startswith(thread_id + "/")) and tid not in seen:
            seen.add(tid)
    for tid in sorted(seen):
        yield tid


@pytest.mark.savers("memory", "sqlite", "postgres")
def test_sync_delete_thread_deletes_a_persistent_childs_thread(saver: Saver) -> None:
    def sync_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        if agent == "notes" or isinstance(messages[-1], ToolMessage):
            return ai("done")
        return ai(call("task", agent="notes", objective="n"))

    lead = Agent(name="lead", model=ScriptedChatModel(policy=sync_policy),
                 subagents=[Agent(name="notes", persistent=True)])
    graph = compile_agent(lead, checkpointer=saver)
    mine = f"s-{uuid.uuid4().hex[:8]}"
    graph.invoke({"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": mine}})
    child = persistent_thread_id(mine, "notes")
    assert thread_family(saver, mine) == [mine, child]
    assert checkpoints(saver, child) > 0
    assert delete_thread(saver, mine) == [mine, child]
    assert checkpoints(saver, mine) == checkpoints(saver, child) == 0
