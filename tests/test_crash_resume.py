"""Crash-proof resume: SIGKILL a three-level run at >= 20 points, resume it from its saver.

Every run is its own (forked) process, killed with SIGKILL from inside at the K-th model or
tool call. The resumed run must give the same final answer as an uninterrupted run; no child
whose run had finished (its ``subagent_end`` was emitted) calls its model again; every tool
result lands on its own tool call; the persistent child's history has no duplicates. Each
test runs on SQLite and on Postgres (conftest's ``durable_saver``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from _kill_points import World, fork_run, inspect_file, read_log
from _savers import DurableSaver
from subagents import Agent, compile_agent, observe
from subagents.checkpoints.threads import persistent_thread_id
from subagents.events import SubagentEnd
from subagents.testing import ScriptedChatModel, ai, call

THREAD = "crash-run"
QUESTION = "audit"


def task_of(messages: list) -> str:
    tasks = [m for m in messages if isinstance(m, HumanMessage)]
    return str(tasks[-1].content)


def policy(messages: list, agent: str | None) -> AIMessage:
    last, task = messages[-1], task_of(messages)
    tools_seen = [m for m in messages[messages.index(next(
        m for m in reversed(messages) if isinstance(m, HumanMessage))):]
        if isinstance(m, ToolMessage)]
    if agent == "root":
        reply = _root(messages, last)
    elif agent == "area":
        reply = (ai(*[call("task", agent="leaf", objective=f"{task}/f{i}") for i in range(3)])
                 if not tools_seen else
                 ai(f"area {task}: " + "; ".join(str(m.content) for m in tools_seen)))
    elif agent == "leaf":
        reply = ai(call("inspect_file", name=task)) if not tools_seen else ai(f"leaf {task} ok")
    else:  # "memo", persistent: answers with every task it has had
        seen = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        reply = ai(f"memo remembers {seen}")
    World.point({"kind": "model", "agent": agent, "task": task,
                 "final": not reply.tool_calls})
    return reply


def _root(messages: list, last: Any) -> AIMessage:
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if isinstance(last, HumanMessage):
        return ai(call("task", agent="area", objective="a1"),
                  call("task", agent="area", objective="a2"),
                  call("task", agent="memo", objective="note-1"))
    if len(results) == 3:
        return ai(call("task", agent="memo", objective="note-2"))
    asked = {tc["id"]: tc["args"]["objective"]
             for m in messages if isinstance(m, AIMessage) for tc in m.tool_calls}
    return ai(" || ".join(f"{asked[m.tool_call_id]} => {json.loads(str(m.content))['result']}"
                          for m in results))


def team() -> Agent:
    leaf = Agent(name="leaf", tools=[inspect_file])
    area = Agent(name="area", subagents=[leaf])
    memo = Agent(name="memo", persistent=True)
    return Agent(name="root", model=ScriptedChatModel(policy=policy),
                 subagents=[area, memo], max_subagent_depth=2)


def worker(store: DurableSaver, name: str, kill_at: int, log_path: str, out_path: str) -> None:
    World.kill_at, World.count = kill_at, 0
    World.log = open(log_path, "a")  # noqa: SIM115 - closed by the process exit

    def on_event(event: Any) -> None:
        if isinstance(event, SubagentEnd):
            World.log.write(json.dumps({"kind": "end", "agent": event.agent,
                                        "task": _objective(event)}) + "\n")
            World.log.flush()

    async def main() -> None:
        async with store.open(name) as saver:
            graph = compile_agent(team(), checkpointer=saver)
            _, cfg = observe({"configurable": {"thread_id": THREAD}}, on_event=on_event)
            state = await graph.aget_state(cfg)
            inputs = None if state.values else {"messages": [HumanMessage(QUESTION)]}
            out = await graph.ainvoke(inputs, cfg, durability="sync")
            Path(out_path).write_text(out["messages"][-1].content)

    asyncio.run(main())


def _objective(event: SubagentEnd) -> str:
    return str(event.usage.get("objective"))


def run(tmp: Path, store: DurableSaver, tag: str, kill_at: int) -> tuple[int, str | None]:
    out = tmp / f"{tag}.out"
    return fork_run(worker, (store, tag, kill_at, str(tmp / f"{tag}.log"), str(out)), out)


def test_sigkill_at_every_point_resumes_to_the_same_answer(
        tmp_path: Path, durable_saver: DurableSaver) -> None:
    code, baseline = run(tmp_path, durable_saver, "baseline", 0)
    assert code == 0 and baseline
    points = len(read_log(tmp_path / "baseline.log")) - sum(
        e["kind"] == "end" for e in read_log(tmp_path / "baseline.log"))
    assert points >= 20
    for k in range(1, points + 1):
        tag = f"k{k}"
        code, _ = run(tmp_path, durable_saver, tag, k)
        assert code == -signal.SIGKILL, f"kill point {k} did not kill"
        killed = read_log(tmp_path / f"{tag}.log")
        (tmp_path / f"{tag}.log").rename(tmp_path / f"{tag}.killed.log")
        code, answer = run(tmp_path, durable_saver, tag, 0)
        assert code == 0, f"resume after kill point {k} failed"
        assert answer == baseline, f"kill point {k}: different answer"
        resumed = read_log(tmp_path / f"{tag}.log")
        finished = {(e["agent"], e["task"]) for e in killed if e["kind"] == "end"}
        rerun = [e for e in resumed if e["kind"] == "model" and (e["agent"], e["task"]) in finished]
        assert rerun == [], f"kill point {k}: finished children ran again: {rerun}"
        check_memo_history(durable_saver, tag, k)


def check_memo_history(store: DurableSaver, tag: str, k: int) -> None:
    async def latest_of_memo() -> Any:
        async with store.open(tag) as saver:
            cfg = {"configurable": {"thread_id": persistent_thread_id(THREAD, "memo")}}
            return await saver.aget_tuple(cfg)

    latest = asyncio.run(latest_of_memo())
    assert latest is not None
    messages = latest.checkpoint["channel_values"]["messages"]
    tasks = [m.content for m in messages if isinstance(m, HumanMessage)]
    assert tasks == ["note-1", "note-2"], f"kill point {k}: memo history {tasks}"
    assert len({m.id for m in messages}) == len(messages) == 4


def test_baseline_answer_pairs_every_result_with_its_call(
        tmp_path: Path, durable_saver: DurableSaver) -> None:
    code, answer = run(tmp_path, durable_saver, "pairs", 0)
    assert code == 0 and answer
    parts = dict(p.split(" => ", 1) for p in answer.split(" || "))
    for area in ("a1", "a2"):
        assert parts[area].startswith(f"area {area}: ")
        leaves = [json.loads(r)["result"] for r in parts[area].split(": ", 1)[1].split("; ")]
        assert leaves == [f"leaf {area}/f{i} ok" for i in range(3)]
    assert parts["note-2"] == "memo remembers ['note-1', 'note-2']"
    if durable_saver.kind == "sqlite":
        with sqlite3.connect(durable_saver.file("pairs")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
