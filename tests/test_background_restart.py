"""Background children survive a process restart (SQLite, real processes, SIGKILL).

A root starts 10 background children (``max_concurrent=3``), awaits them all, and answers
with their results. Each run is its own forked process, killed with SIGKILL from inside at
the K-th model or tool call, for 20 seeded random K; a new process resumes the thread. The
resumed run gives the same answer as an uninterrupted one, no model call whose reply was
already checkpointed runs again (counted against the SQLite checkpoints as the killed
process left them) and every child's result is there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from _kill_points import (
    World,
    background_then_await,
    fork_run,
    inspect_file,
    kill_then_resume,
    read_log,
    start_or_resume,
    task_of,
)
from subagents import Agent, BackgroundConfig, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

THREAD = "bg-restart"
QUESTION = "audit everything"
JOBS = 10


def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    step = sum(isinstance(m, AIMessage) for m in messages)
    task = "root" if agent == "root" else task_of(messages)
    reply = background_then_await(messages, step, JOBS) if agent == "root" else (
        ai(call("inspect_file", name=task)) if step == 0 else ai(f"{task} done"))
    World.point({"kind": "model", "task": task, "step": step})
    return reply


def team(worker: str = "w") -> Agent:
    w = Agent(name=worker, tools=[inspect_file])
    return Agent(name="root", model=ScriptedChatModel(policy=policy), subagents=[w],
                 background=BackgroundConfig(max_concurrent=3, persist=True))


def worker(db: str, kill_at: int, log_path: str, out_path: str, name: str) -> None:
    World.kill_at, World.count = kill_at, 0
    World.log = open(log_path, "a")  # noqa: SIM115 - closed by the process exit
    start_or_resume(team(name), db, THREAD, QUESTION, out_path)


def run(tmp: Path, tag: str, kill_at: int, name: str = "w") -> tuple[int, str | None]:
    out = tmp / f"{tag}.out"
    out.unlink(missing_ok=True)
    return fork_run(worker, (str(tmp / f"{tag}.sqlite"), kill_at, str(tmp / f"{tag}.log"),
                             str(out), name), out)


def checkpointed_steps(db: Path) -> dict[str, int]:
    """Per task (``root`` or a child's objective): model replies its latest checkpoint holds."""
    with sqlite3.connect(db) as conn:
        threads = [t for (t,) in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    steps: dict[str, int] = {}
    with SqliteSaver.from_conn_string(str(db)) as saver:
        for thread in threads:
            latest = saver.get_tuple({"configurable": {"thread_id": thread,
                                                       "checkpoint_ns": ""}})
            if latest is None:
                continue
            messages = latest.checkpoint["channel_values"].get("messages") or []
            if not messages:
                continue
            task = "root" if thread == THREAD else task_of(messages)
            steps[task] = sum(isinstance(m, AIMessage) for m in messages)
    return steps


def check_answer(answer: str | None) -> None:
    parts = (answer or "").split(" | ")
    assert [p.split(":", 1)[1] for p in parts] == [
        f"completed:job-{i} done" for i in range(JOBS)]
    ids = [p.split(":", 1)[0] for p in parts]  # the resumed answers compare them too
    assert len(set(ids)) == JOBS and all(i.startswith("bg_") for i in ids)


def test_sigkill_at_20_random_points_loses_no_background_child(tmp_path: Path) -> None:
    code, baseline = run(tmp_path, "baseline", 0)
    assert code == 0
    check_answer(baseline)
    points = len(read_log(tmp_path / "baseline.log"))
    assert points == 3 + 3 * JOBS  # root: 3 model calls; each child: 2 model calls, 1 tool
    chosen = sorted(random.Random(17).sample(range(1, points + 1), 20))
    for k in chosen:
        kill_then_resume(lambda tag, at: run(tmp_path, tag, at), tmp_path, k, baseline,
                         checkpointed_steps)


def test_a_child_whose_agent_is_gone_ends_failed_with_the_reason(tmp_path: Path) -> None:
    code, _ = run(tmp_path, "gone", 3 + 3 * 3)  # killed during the await: children running
    assert code == -signal.SIGKILL
    code, answer = run(tmp_path, "gone", 0, name="renamed")
    assert code == 0 and answer
    parts = answer.split(" | ")
    assert len(parts) == JOBS  # none lost: each finished one's result, the rest failed
    failed = [p for p in parts if ":failed:" in p]  # recorded running: its agent is needed
    assert failed and all(":failed:" in p or ":completed:" in p for p in parts)
    with SqliteSaver.from_conn_string(str(tmp_path / "gone.sqlite")) as saver:
        latest = saver.get_tuple({"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}})
    assert latest is not None
    awaited = [json.loads(str(m.content)) for m in latest.checkpoint["channel_values"]["messages"]
               if isinstance(m, ToolMessage) and m.name == "agent_await"][-1]
    errors = {r["error"] for r in awaited["results"] if r["status"] == "failed"}
    assert errors == {"cannot resume background sub-agent 'w' after a restart: it is no "
                      "sub-agent of 'root' any more"}

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")



async def test_only_a_pending_thread_re_attaches_auto_cancelled_children() -> None:
    """A completed thread's children were auto-cancelled: a resume of it starts none again."""
    from langgraph.checkpoint.memory import InMemorySaver

    from subagents.nodes.reattach import reattach
    from subagents.runtime.call import SCOPE_KEY
    from subagents.runtime.scope import RunScope

    graph = compile_agent(team())
    plan = graph.subagents_plan  # type: ignore[attr-defined]
    record = {"id": "bg_900001", "agent": "w", "tool_call_id": "c1", "objective": "job-0",
              "thread_id": "t/bg/c1", "status": "running"}
    done = {**record, "id": "bg_900002", "tool_call_id": "c2", "status": "completed",
            "result": "ok"}
    for pending, config in ((False, BackgroundConfig(persist=True)),
                            (True, BackgroundConfig(persist=True)),
                            (False, BackgroundConfig(persist=True, auto_cancel=False))):
        scope = RunScope(agent="root", path=("root",), parent=None, call=None, budget=None,
                         background=config)
        got = reattach(scope, plan, {"background": {"a": record, "b": done}},
                       {"configurable": {"thread_id": "t", SCOPE_KEY: scope}}, InMemorySaver(),
                       pending=pending)
        table = scope.background
        assert table is not None
        assert got == (2 if pending or not config.auto_cancel else 0)
        if got:
            assert table.jobs["bg_900002"].as_dict()["result"] == "ok"
            assert table.jobs["bg_900001"].thread_id == "t/bg/c1"
            await asyncio.gather(*table.cancel_all(), return_exceptions=True)


async def test_a_persisted_childs_events_reach_the_custom_stream_not_its_state() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        results = [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]
        if agent == "w":
            return ai("child answer")
        if not results:
            return ai(call("task", agent="w", objective="x", background=True))
        return ai(call("agent_await", ids=[results[0]["id"]])) if len(results) == 1 else ai("f")

    root = Agent(name="root", model=ScriptedChatModel(policy=policy),
                 subagents=[Agent(name="w")], background=BackgroundConfig(persist=True))
    graph = compile_agent(root, checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "streamed"}}
    events, updates = [], []
    async with asyncio.timeout(10):
        async for ns, mode, chunk in graph.astream({"messages": [HumanMessage("go")]}, cfg,
                                                   stream_mode=["custom", "updates"],
                                                   subgraphs=True):
            if mode == "custom":
                events.append((chunk["type"], chunk["path"]))
            elif ns == ():
                updates.extend(chunk)
    assert ("model_end", ["root", "w"]) in events
    assert ("subagent_end", ["root", "w"]) in events
    assert set(updates) <= {"model", "w", "lifecycle"}  # the child's own nodes stay its own
    state = await graph.aget_state({"configurable": {"thread_id": "streamed"}})
    [record] = state.values["background"].values()
    assert record["thread_id"].startswith("streamed/bg/") and record["status"] == "completed"


def test_re_attached_childrens_events_reach_the_resumed_runs_stream(tmp_path: Path) -> None:
    """After a restart, children re-attached from the checkpoint stream into the resumed run.

    They are re-attached before LangGraph opens the resumed run's stream; their events wait
    for it (``runtime.relay``) instead of being lost to ``stream_mode="custom"``.
    """
    from subagents.checkpoints import async_sqlite_saver

    code, _ = run(tmp_path, "streamed", 3 + 3 * 3)  # killed during the await: children running
    assert code == -signal.SIGKILL
    World.kill_at, World.count = 0, 0
    World.log = open(tmp_path / "resumed.log", "a")  # noqa: SIM115 - closed below
    cfg: Any = {"configurable": {"thread_id": THREAD}}

    async def resume() -> tuple[set[str], list[tuple[str, list[str], str]], str]:
        async with async_sqlite_saver(str(tmp_path / "streamed.sqlite")) as saver:
            graph = compile_agent(team(), checkpointer=saver)
            before = (await graph.aget_state(cfg)).values["background"].values()
            unfinished = {r["tool_call_id"] for r in before if r["status"] == "running"}
            events: list[tuple[str, list[str], str]] = []
            async with asyncio.timeout(30):
                async for _, mode, chunk in graph.astream(None, cfg, subgraphs=True,
                                                          stream_mode=["custom", "values"]):
                    if mode == "custom":
                        events.append((chunk["type"], chunk["path"],
                                       chunk.get("tool_call_id") or ""))
                    else:
                        last = chunk
            return unfinished, events, last["messages"][-1].content

    try:
        unfinished, events, answer = asyncio.run(resume())
    finally:
        World.log.close()
    check_answer(answer)
    assert unfinished  # the kill point left children running
    ended = {tc for kind, path, tc in events if kind == "subagent_end" and path == ["root", "w"]}
    assert unfinished <= ended
    assert sum(kind == "model_end" and path == ["root", "w"] for kind, path, _ in events) >= len(
        unfinished)
