"""A budget goes on across a crash: SIGKILL a run inside a tool, resume it from its saver.

Each run is its own (forked) process, as in ``test_crash_resume``; the looping agent (the root
or a sub-agent) calls a tool forever, the first process is killed at its second tool call,
and the model calls of both processes together stay within ``max_model_calls``. Each test
runs on SQLite and on Postgres (conftest's ``durable_saver``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool

from _savers import DurableSaver
from subagents import Agent, Budget, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

LIMIT = 4
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


class World:
    """Per-process kill switch and model-call log (set in the forked child)."""

    kill_at = 0
    tools = 0
    log: Any = None


@tool
def step(n: int) -> str:
    """Do one step of the work."""
    World.tools += 1
    if World.kill_at and World.tools == World.kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return f"step {n} done"


def policy_for(looper: str) -> Any:
    def reply(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        turns = sum(isinstance(m, AIMessage) for m in messages)
        World.log.write(f"{agent}\n")
        World.log.flush()
        if agent == looper:
            return ai(call("step", n=turns))
        if agent == "root" and turns == 0:
            return ai(call("task", agent="worker", objective="work"))
        return ai(f"{agent} done")

    return reply


def worker(store: DurableSaver, looper: str, kill_at: int, log_path: str) -> None:
    World.kill_at, World.tools = kill_at, 0
    World.log = open(log_path, "a")  # noqa: SIM115 - closed by the process exit
    tools = [step]
    sub = Agent(name="worker", tools=tools if looper == "worker" else [], max_steps=50)
    root = Agent(name="root", model=ScriptedChatModel(policy=policy_for(looper)),
                 tools=tools if looper == "root" else [], subagents=[sub],
                 budget=Budget(max_model_calls=LIMIT), max_steps=50)

    async def main() -> None:
        async with store.open("cp") as saver:
            graph = compile_agent(root, checkpointer=saver)
            cfg = {"configurable": {"thread_id": "budget-crash"}}
            state = await graph.aget_state(cfg)
            inputs = None if state.values else {"messages": [HumanMessage("go")]}
            await graph.ainvoke(inputs, cfg, durability="sync")

    asyncio.run(main())


def run(tmp: Path, store: DurableSaver, looper: str, kill_at: int) -> int | None:
    proc = multiprocessing.get_context("fork").Process(
        target=worker, args=(store, looper, kill_at, str(tmp / "calls.log")))
    proc.start()
    proc.join(60)
    return proc.exitcode


@pytest.mark.parametrize("looper", ["root", "worker"])
def test_a_crashed_run_resumes_with_its_budget_spent(
        tmp_path: Path, durable_saver: DurableSaver, looper: str) -> None:
    assert run(tmp_path, durable_saver, looper, kill_at=2) == -signal.SIGKILL
    before = (tmp_path / "calls.log").read_text().split()
    assert run(tmp_path, durable_saver, looper, kill_at=0) == 0
    calls = (tmp_path / "calls.log").read_text().split()
    assert len(before) < LIMIT
    assert len(calls) == LIMIT, calls
