"""A nested agent's background children survive a process restart (SQLite, real processes).

The root delegates (sync) to ``mid``; ``mid`` starts 3 background children (``max_concurrent
=2``), awaits them all and answers with their results; the root answers with ``mid``'s. Each
run is a forked process killed with SIGKILL from inside at the K-th model or tool call, for
every K; a new process resumes the root's thread. ``mid`` resumes inside the root's resumed
delegation and re-attaches its own children from its checkpoint (persisted by default on a
checkpointer thread): the same answer as an uninterrupted run, same ids, and no model call
whose reply was already checkpointed (the root's, ``mid``'s or a child's) runs again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
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
from subagents import Agent, BackgroundConfig
from subagents.testing import ScriptedChatModel, ai, call

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

THREAD = "nested-bg-restart"
JOBS = 3


def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    step = sum(isinstance(m, AIMessage) for m in messages)
    task = agent if agent in ("root", "mid") else task_of(messages)
    if agent == "root":
        reply = ai(call("task", agent="mid", objective="audit")) if step == 0 else ai(
            "root: " + json.loads(str(messages[-1].content))["result"])
    elif agent == "mid":
        reply = background_then_await(messages, step, JOBS)
    else:
        reply = ai(call("inspect_file", name=task)) if step == 0 else ai(f"{task} done")
    World.point({"kind": "model", "task": task, "step": step})
    return reply


def team() -> Agent:
    model = ScriptedChatModel(policy=policy)
    w = Agent(name="w", tools=[inspect_file])
    mid = Agent(name="mid", description="Audits.", subagents=[w],
                background=BackgroundConfig(max_concurrent=2))
    return Agent(name="root", model=model, subagents=[mid], max_subagent_depth=2)


def worker(db: str, kill_at: int, log_path: str, out_path: str) -> None:
    World.kill_at, World.count = kill_at, 0
    World.log = open(log_path, "a")  # noqa: SIM115 - closed by the process exit
    start_or_resume(team(), db, THREAD, "audit it", out_path)


def run(tmp: Path, tag: str, kill_at: int) -> tuple[int, str | None]:
    out = tmp / f"{tag}.out"
    out.unlink(missing_ok=True)
    return fork_run(worker, (str(tmp / f"{tag}.sqlite"), kill_at, str(tmp / f"{tag}.log"),
                             str(out)), out)


def checkpointed_steps(db: Path) -> dict[str, int]:
    """Per task (``root``, ``mid``, a child's objective): model replies checkpointed."""
    with sqlite3.connect(db) as conn:
        places = conn.execute("SELECT DISTINCT thread_id, checkpoint_ns FROM checkpoints")
        places = list(places)
    steps: dict[str, int] = {}
    with SqliteSaver.from_conn_string(str(db)) as saver:
        for thread, ns in places:
            latest = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ns}})
            messages = latest.checkpoint["channel_values"].get("messages") if latest else None
            if not messages:
                continue
            task = ("root" if not ns else "mid") if thread == THREAD else task_of(messages)
            steps[task] = max(steps.get(task, 0), sum(isinstance(m, AIMessage)
                                                      for m in messages))
    return steps


def check_answer(answer: str | None) -> None:
    parts = (answer or "").removeprefix("root: ").split(" | ")
    assert [p.split(":", 1)[1] for p in parts] == [
        f"completed:job-{i} done" for i in range(JOBS)]
    assert all(p.startswith("bg_") for p in parts)


def test_a_nested_agent_resumed_after_sigkill_re_attaches_its_children(tmp_path: Path) -> None:
    code, baseline = run(tmp_path, "baseline", 0)
    assert code == 0
    check_answer(baseline)
    points = len(read_log(tmp_path / "baseline.log"))
    assert points == 2 + 3 + 3 * JOBS  # root 2, mid 3 model calls; each child 2 + 1 tool
    for k in range(1, points + 1):
        kill_then_resume(lambda tag, at: run(tmp_path, tag, at), tmp_path, k, baseline,
                         checkpointed_steps)


def test_a_nested_table_is_in_the_nested_agents_checkpoint(tmp_path: Path) -> None:
    code, _ = run(tmp_path, "table", 0)
    assert code == 0
    with sqlite3.connect(tmp_path / "table.sqlite") as conn:
        spaces = {ns for (ns,) in conn.execute(
            "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = ?", (THREAD,))}
    [mid_ns] = [ns for ns in spaces if ns.startswith("mid:")]
    with SqliteSaver.from_conn_string(str(tmp_path / "table.sqlite")) as saver:
        latest = saver.get_tuple({"configurable": {"thread_id": THREAD,
                                                   "checkpoint_ns": mid_ns}})
    assert latest is not None
    records: dict[str, Any] = latest.checkpoint["channel_values"]["background"]
    assert sorted(r["objective"] for r in records.values()) == [f"job-{i}" for i in range(JOBS)]
    assert all(r["thread_id"] == f"{THREAD}/bg/{r['tool_call_id']}" and
               r["status"] == "completed" for r in records.values())
