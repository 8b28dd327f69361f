"""Postgres persistence on a real PostgreSQL server (``_pg``: Debian's binaries, unix socket).

- a root on SQLite whose persistent sub-agents keep their histories in Postgres;
- a root entirely on Postgres, crashed mid-run and resumed without re-running a finished
  delegation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.postgres", reason="pip install "
                    "langgraph-checkpoint-postgres 'psycopg[binary]'")

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from _waiting import Changes
from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.checkpoints import async_sqlite_saver, memory_saver
from subagents.checkpoints.postgres import (
    async_postgres_saver,
    postgres_persistence,
)
from subagents.checkpoints.threads import persistent_thread_id
from subagents.testing import ScriptedChatModel, ai, call


def memo_policy(messages: list[Any], agent: str | None) -> AIMessage:
    """Root: one task per word ``agent:objective``; children: every task they have seen."""
    if agent == "root":
        last = messages[-1]
        if isinstance(last, HumanMessage):
            return ai(*[call("task", agent=w.split(":")[0], objective=w)
                        for w in str(last.content).split()])
        return ai(" | ".join(str(m.content) for m in messages if isinstance(m, ToolMessage)))
    seen = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return ai(f"{agent} saw {seen}")


def results(out: dict[str, Any]) -> dict[str, DelegationResult]:
    """The last turn's delegation results by agent."""
    last_human = max(i for i, m in enumerate(out["messages"]) if isinstance(m, HumanMessage))
    found = [DelegationResult.from_message(m) for m in out["messages"][last_human:]
             if isinstance(m, ToolMessage)]
    return {r.agent: r for r in found}


def memo_team(persistence: Any) -> Agent:
    kids = [Agent(name=n, persistent=True, persistence=persistence) for n in ("notes", "other")]
    return Agent(name="root", model=ScriptedChatModel(policy=memo_policy), subagents=kids)


async def ask(graph: Any, text: str, thread: str) -> dict[str, DelegationResult]:
    cfg = {"configurable": {"thread_id": thread}}
    return results(await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg))


async def test_persistent_children_on_postgres_root_on_sqlite(pg_dsn: str,
                                                              tmp_path: Path) -> None:
    async with async_postgres_saver(pg_dsn) as pg, \
            async_sqlite_saver(tmp_path / "root.sqlite") as root_saver:
        graph = compile_agent(memo_team(postgres_persistence(pg)), checkpointer=root_saver)
        await ask(graph, "notes:one", "t1")
        second = await ask(graph, "notes:two other:x", "t1")
        assert second["notes"].result == "notes saw ['notes:one', 'notes:two']"
        assert second["other"].result == "other saw ['other:x']"  # never sees notes' history
        fresh = await ask(graph, "notes:three", "t2")
        assert fresh["notes"].result == "notes saw ['notes:three']"
        # the history is in Postgres under <parent thread>/<agent>, not in the root's SQLite
        stored = await pg.aget_tuple({"configurable": {
            "thread_id": persistent_thread_id("t1", "notes")}})
        assert stored is not None
        tasks = [m.content for m in stored.checkpoint["channel_values"]["messages"]
                 if isinstance(m, HumanMessage)]
        assert tasks == ["notes:one", "notes:two"]
        assert await root_saver.aget_tuple({"configurable": {
            "thread_id": persistent_thread_id("t1", "notes")}}) is None
        assert await pg.aget_tuple({"configurable": {"thread_id": "t1"}}) is None


async def test_dsn_factory_connects_lazily_and_history_survives_a_new_connection(
        pg_dsn: str) -> None:
    persistence = postgres_persistence(pg_dsn)
    graph = compile_agent(memo_team(persistence), checkpointer=memory_saver())
    await ask(graph, "notes:one", "t1")
    await persistence.aclose()  # the next call opens a new connection
    again = await ask(graph, "notes:two", "t1")
    assert again["notes"].result == "notes saw ['notes:one', 'notes:two']"
    await persistence.aclose()
    # and another process's view (a new saver on the same database) sees the same history
    async with async_postgres_saver(pg_dsn) as pg:
        stored = await pg.aget_tuple({"configurable": {
            "thread_id": persistent_thread_id("t1", "notes")}})
    assert stored is not None


async def test_factory_without_parent_thread_is_a_failed_delegation(
        pg_dsn: str) -> None:
    async with async_postgres_saver(pg_dsn) as pg:
        graph = compile_agent(memo_team(postgres_persistence(pg)))
        out = await graph.ainvoke({"messages": [HumanMessage("notes:one")]})
    (res,) = results(out).values()
    assert res.status == Status.FAILED and res.error is not None
    assert "configurable.thread_id" in res.error


class Crash(BaseException):
    """The process dies (not an error any node would catch)."""


async def test_root_on_postgres_resumes_after_crash_without_rerunning(
        pg_dsn: str) -> None:
    armed = {"crash": True}
    model_calls: list[str | None] = []
    answered: set[str] = set()  # root-level tasks whose ToolMessage is saved
    saved = Changes()

    @tool
    async def deploy(target: str) -> str:
        """Deploy a target (slow; the first attempt dies with the process)."""
        if armed["crash"]:  # once both siblings' results are saved
            await saved.until(lambda: len(answered) >= 2, what="the siblings' results saved")
            armed["crash"] = False
            raise Crash("killed mid-child")
        return f"{target} deployed"

    def policy(messages: list[Any], agent: str | None) -> AIMessage:
        model_calls.append(agent)
        last = messages[-1]
        if agent == "root":
            if isinstance(last, HumanMessage):
                return ai(call("task", agent="quick", objective="check"),
                          call("task", agent="slow", objective="prod"),
                          call("task", agent="notes", objective="remember"))
            return ai(" | ".join(str(m.content) for m in messages
                                 if isinstance(m, ToolMessage)))
        if agent == "slow":
            return (ai(call("deploy", target="prod")) if isinstance(last, HumanMessage)
                    else ai(f"slow: {last.content}"))
        seen = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        return ai(f"{agent} saw {seen}")

    def team() -> Agent:
        kids = [Agent(name="quick"), Agent(name="slow", tools=[deploy]),
                Agent(name="notes", persistent=True)]
        return Agent(name="root", model=ScriptedChatModel(policy=policy), subagents=kids)

    def note_answers(pg: Any) -> None:
        aput_writes = pg.aput_writes

        async def noting(config: Any, writes: Any, task_id: str, *args: Any) -> None:
            await aput_writes(config, writes, task_id, *args)
            if not config["configurable"].get("checkpoint_ns") and any(
                    isinstance(m, ToolMessage) for _, value in writes
                    for m in (value if isinstance(value, list) else [value])):
                answered.add(task_id)
                saved.notify()

        pg.aput_writes = noting

    cfg = {"configurable": {"thread_id": "pg-crash"}}
    async with async_postgres_saver(pg_dsn) as pg:
        note_answers(pg)
        with pytest.raises(Crash):
            await compile_agent(team(), checkpointer=pg).ainvoke(
                {"messages": [HumanMessage("go")]}, cfg)
    before = list(model_calls)
    assert before.count("quick") == 1 and before.count("notes") == 1
    assert before.count("slow") == 1  # died inside its tool
    model_calls.clear()
    async with async_postgres_saver(pg_dsn) as pg:  # a new process: a new connection
        graph = compile_agent(team(), checkpointer=pg)
        out = await graph.ainvoke(None, cfg)
        notes = await pg.aget_tuple({"configurable": {
            "thread_id": persistent_thread_id("pg-crash", "notes")}})
    assert model_calls.count("quick") == 0 and model_calls.count("notes") == 0
    assert model_calls.count("slow") == 1  # resumed at its tool, then answered
    got = results(out)
    assert {a: r.status for a, r in got.items()} == {
        "quick": Status.COMPLETED, "slow": Status.COMPLETED, "notes": Status.COMPLETED}
    assert got["slow"].result == "slow: prod deployed"
    assert got["notes"].result == "notes saw ['remember']"
    assert notes is not None
    history = notes.checkpoint["channel_values"]["messages"]
    assert [m.content for m in history if isinstance(m, HumanMessage)] == ["remember"]
