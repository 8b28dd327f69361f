"""Kill points for crash tests: a per-process kill switch and call log, and a logged tool.

A forked run sets ``World.kill_at`` (the n-th point SIGKILLs the process; 0: never) and
``World.log`` (a file the run appends one JSON line to per point), then every model call and
tool call of the scripted run passes ``World.point``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from subagents import Agent, compile_agent
from subagents.checkpoints import async_sqlite_saver
from subagents.testing import ai, call

__all__ = ["World", "background_then_await", "fork_run", "inspect_file", "kill_then_resume",
           "read_log", "start_or_resume", "task_of"]


class World:
    """Per-process kill switch and call log (set up in the forked child)."""

    kill_at = 0
    count = 0
    log: Any = None

    @classmethod
    def point(cls, what: dict[str, Any]) -> None:
        """Count a point; the ``kill_at``-th SIGKILLs this process, others are logged."""
        cls.count += 1
        if cls.kill_at and cls.count == cls.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        cls.log.write(json.dumps(what) + "\n")
        cls.log.flush()


@tool
def inspect_file(name: str) -> str:
    """Inspect one file."""
    World.point({"kind": "tool", "name": name})
    return f"{name} looks fine"


def fork_run(target: Callable[..., None], args: tuple[Any, ...],
             out: Path) -> tuple[int, str | None]:
    """Run ``target(*args)`` in a forked process (60 s at most): (exit code, ``out``'s text)."""
    proc = multiprocessing.get_context("fork").Process(target=target, args=args)
    proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "worker hung"
    return proc.exitcode, out.read_text() if out.exists() else None


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines ``World.point`` wrote to ``path`` (none when it does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def task_of(messages: list[BaseMessage]) -> str:
    """The task message of a run: its first human message (a child's objective)."""
    return str(next(m for m in messages if isinstance(m, HumanMessage)).content)


def background_then_await(messages: list[BaseMessage], step: int, jobs: int) -> AIMessage:
    """A boss's replies: ``jobs`` background ``task`` calls to ``w``, one ``agent_await``
    of them all (allSettled), then ``id:status:result`` of each, joined by `` | ``."""
    if step == 0:
        return ai(*[call("task", agent="w", objective=f"job-{i}", background=True)
                    for i in range(jobs)])
    results = [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]
    if step == 1:
        return ai(call("agent_await", ids=[r["id"] for r in results], mode="allSettled"))
    return ai(" | ".join(f"{r['id']}:{r['status']}:{r['result']}"
                         for r in results[-1]["results"]))


def start_or_resume(agent: Agent, db: str, thread: str, question: str, out_path: str) -> None:
    """Run ``agent`` on SQLite ``db``: start ``thread`` with ``question``, or resume it when
    it has a checkpoint; the final answer goes to ``out_path`` (a forked run's target)."""
    async def main() -> None:
        async with async_sqlite_saver(db) as saver:
            graph = compile_agent(agent, checkpointer=saver)
            cfg: RunnableConfig = {"configurable": {"thread_id": thread}}
            state = await graph.aget_state(cfg)
            inputs = None if state.values else {"messages": [HumanMessage(question)]}
            out = await graph.ainvoke(inputs, cfg, durability="sync")
            Path(out_path).write_text(out["messages"][-1].content)

    asyncio.run(main())


def kill_then_resume(run: Callable[[str, int], tuple[int, str | None]], tmp: Path, k: int,
                     baseline: str | None, saved_steps: Callable[[Path], dict[str, int]]) -> None:
    """SIGKILL a forked run at kill point ``k``, then resume its thread in a new process.

    ``run(tag, kill_at)`` forks a run logging to ``tmp/<tag>.log`` on ``tmp/<tag>.sqlite``;
    ``saved_steps(db)`` reads, per task, the model replies its checkpoints hold. Asserts the
    resumed answer is ``baseline`` and no model call whose reply was checkpointed ran again.
    """
    tag = f"k{k}"
    code, _ = run(tag, k)
    assert code == -signal.SIGKILL, f"kill point {k} did not kill"
    saved = saved_steps(tmp / f"{tag}.sqlite")
    (tmp / f"{tag}.log").rename(tmp / f"{tag}.killed.log")
    code, answer = run(tag, 0)
    assert code == 0, f"resume after kill point {k} failed"
    assert answer == baseline, f"kill point {k}: different answer {answer!r}"
    again = [e for e in read_log(tmp / f"{tag}.log")
             if e["kind"] == "model" and e["step"] < saved.get(e["task"], 0)]
    assert again == [], f"kill point {k}: checkpointed model calls ran again: {again}"
