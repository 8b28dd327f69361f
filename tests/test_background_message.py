"""``agent_message(id, text)``: a follow-up to a running background child (#17 item 2).

The child reads it at its next model call as a runtime-marked human message; a finished,
cancelled or unknown id gets a typed refusal; a ``subagent_message`` event is emitted; the
message survives a process restart (SQLite, a real killed process) and is read once.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from subagents import Agent, BackgroundConfig, compile_agent, observe
from subagents.checkpoints import async_sqlite_saver
from subagents.events import BaseEvent, SubagentMessage
from subagents.nodes.lifecycle import MESSAGE_PREFIX
from subagents.nodes.plan import NUDGE_KEY
from subagents.runtime.background import background_thread_id
from subagents.testing import ScriptedChatModel, ai, call

TOOLS = ("status", "cancel", "await", "message")


class Gate:
    """Where the child's ``gate`` tool waits (per test / per process)."""

    event: asyncio.Event | None = None
    never = False


@tool
async def gate() -> str:
    """Wait until the gate opens."""
    if Gate.never:
        await asyncio.Event().wait()
    if Gate.event is not None:
        await Gate.event.wait()
    return "opened"


def child_policy(messages: list[BaseMessage]) -> AIMessage:
    sent = [m for m in messages if isinstance(m, HumanMessage) and m.additional_kwargs.get(
        NUDGE_KEY)]
    if sent:
        return ai("got: " + " + ".join(str(m.content).removeprefix(MESSAGE_PREFIX)
                                        for m in sent))
    if not any(isinstance(m, ToolMessage) for m in messages):
        return ai(call("gate"))
    return ai("no message")


def results(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]


def root_policy(messages: list[BaseMessage]) -> AIMessage:
    """Spawn, message, await, answer (the lifecycle results drive each step)."""
    step = sum(isinstance(m, AIMessage) for m in messages)
    done = results(messages)
    if step == 0:
        return ai(call("task", agent="w", objective="work", background=True))
    job = done[0]["id"]
    if step == 1:
        return ai(call("agent_message", id=job, text="focus on X"))
    if step == 2:
        return ai(call("agent_await", ids=[job]))
    return ai(f"answer: {done[-1]['results'][0]['result']}")


def team() -> Agent:
    worker = Agent(name="w", model=ScriptedChatModel(policy=child_policy), tools=[gate])
    return Agent(name="root", model=ScriptedChatModel(policy=root_policy), subagents=[worker],
                 background=BackgroundConfig(tools=TOOLS, persist=True))


async def test_a_running_child_reads_the_message_at_its_next_model_call() -> None:
    Gate.event, Gate.never = asyncio.Event(), False
    events: list[BaseEvent] = []

    def on_event(event: BaseEvent) -> None:
        events.append(event)
        if isinstance(event, SubagentMessage):
            assert Gate.event is not None
            Gate.event.set()  # the child was blocked in its tool: its next call reads it

    agent = team()
    child_model = agent.subagents[0].model
    _, cfg = observe(on_event=on_event)
    async with asyncio.timeout(10):
        out = await compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    assert out["messages"][-1].content == "answer: got: focus on X"
    sent = results(out["messages"])[1]
    assert sent["status"] == "sent" and sent["message_id"].startswith("msg-")
    [event] = [e for e in events if isinstance(e, SubagentMessage)]
    assert (event.path, event.text, event.id) == (["root", "w"], "focus on X", sent["id"])
    assert isinstance(child_model, ScriptedChatModel)
    last = child_model.calls_by("w")[-1].messages[-1]
    assert isinstance(last, HumanMessage) and last.id == sent["message_id"]
    assert last.additional_kwargs[NUDGE_KEY] == "agent_message"
    assert last.content == MESSAGE_PREFIX + "focus on X"


def refusing_root(messages: list[BaseMessage]) -> AIMessage:
    """Spawn two, await the first, cancel the second, then message: done, cancelled, unknown."""
    step = sum(isinstance(m, AIMessage) for m in messages)
    done = results(messages)
    if step == 0:
        return ai(call("task", agent="w", objective="quick", background=True),
                  call("task", agent="w", objective="slow", background=True))
    first, second = done[0]["id"], done[1]["id"]
    if step == 1:
        return ai(call("agent_await", ids=[first]), call("agent_cancel", id=second))
    if step == 2:
        return ai(call("agent_message", id=first, text="late"),
                  call("agent_message", id=second, text="too late"),
                  call("agent_message", id="bg_nope", text="who?"),
                  call("agent_message", id=first, text=""))
    return ai("done")


def quick_or_gated(messages: list[BaseMessage]) -> AIMessage:
    task = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
    return ai("quick done") if task == "quick" else child_policy(messages)


async def test_finished_cancelled_and_unknown_ids_get_a_typed_refusal() -> None:
    Gate.event, Gate.never = None, True
    worker = Agent(name="w", model=ScriptedChatModel(policy=quick_or_gated), tools=[gate])
    root = Agent(name="root", model=ScriptedChatModel(policy=refusing_root),
                 subagents=[worker], background=BackgroundConfig(tools=TOOLS))
    async with asyncio.timeout(10):
        out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    messages = [m for m in out["messages"] if isinstance(m, ToolMessage)
                and m.name == "agent_message"]
    late, cancelled, unknown, empty = (json.loads(str(m.content)) for m in messages)
    assert (late["status"], late["reason"]) == ("failed", "completed")
    assert "has ended (completed)" in late["error"]
    assert (cancelled["status"], cancelled["reason"]) == ("failed", "cancelled")
    assert (unknown["status"], unknown["reason"]) == ("failed", "unknown")
    assert empty == {"status": "failed", "error": "'text' must be a non-empty string"}
    assert all(m.status == "error" for m in messages)


def test_agent_message_is_opt_in() -> None:
    default = compile_agent(Agent(name="root", model=ScriptedChatModel(policy=root_policy),
                                  subagents=[Agent(name="w")], background=True))
    assert "agent_message" not in default.subagents_plan.lifecycle  # type: ignore[attr-defined]
    opted = compile_agent(team())
    assert "agent_message" in opted.subagents_plan.lifecycle  # type: ignore[attr-defined]


# A real restart: the first process sends the message while the child is blocked in its
# tool and is killed at the root's next model call; a new process resumes the thread.

THREAD = "msg-restart"


def worker(db: str, kill: bool, out_path: str) -> None:
    Gate.event, Gate.never = None, kill

    def policy(messages: list[BaseMessage]) -> AIMessage:
        if kill and sum(isinstance(m, AIMessage) for m in messages) == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # agent_message's result is checkpointed
        return root_policy(messages)

    async def main() -> None:
        async with async_sqlite_saver(db) as saver:
            agent = team().model_copy(update={"model": ScriptedChatModel(policy=policy)})
            graph = compile_agent(agent, checkpointer=saver)
            cfg = {"configurable": {"thread_id": THREAD}}
            state = await graph.aget_state(cfg)
            inputs = None if state.values else {"messages": [HumanMessage("go")]}
            out = await graph.ainvoke(inputs, cfg, durability="sync")
            child = background_thread_id(THREAD, out["messages"][1].tool_calls[0]["id"])
            history = (await graph.aget_state({"configurable": {"thread_id": child}})).values
            Path(out_path).write_text(json.dumps({
                "answer": out["messages"][-1].content,
                "sent": [m.id for m in history["messages"] if isinstance(m, HumanMessage)
                         and m.additional_kwargs.get(NUDGE_KEY)]}))

    asyncio.run(main())


def run(tmp: Path, kill: bool) -> tuple[int | None, dict[str, Any] | None]:
    out = tmp / "out.json"
    proc = multiprocessing.get_context("fork").Process(
        target=worker, args=(str(tmp / "db.sqlite"), kill, str(out)))
    proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "worker hung"
    return proc.exitcode, json.loads(out.read_text()) if out.exists() else None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_message_survives_a_restart_and_is_read_once(tmp_path: Path) -> None:
    code, _ = run(tmp_path, kill=True)
    assert code == -signal.SIGKILL
    code, got = run(tmp_path, kill=False)
    assert code == 0 and got is not None
    assert got["answer"] == "answer: got: focus on X"
    assert len(got["sent"]) == 1 and got["sent"][0].startswith("msg-")
