"""The measured runs of ``delegation.py``: scenario 1 (per delegation, with its parity
lines), 2 (fan-out), 3 (own graph vs native child) and the cProfile of ``--profile``."""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _hand as hand
from _common import Samples, interleave, interleave_async
from _delegation_common import (
    FANOUT_CHILDREN,
    FANOUT_LATENCY,
    SIDES,
    build_ours,
    build_send_fanout,
    build_side,
    handwritten_gather,
    policy,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph.state import CompiledStateGraph

from subagents import Agent, compile_agent
from subagents.checkpoints import async_sqlite_saver, sqlite_saver
from subagents.testing import ScriptedChatModel

# --------------------------------------------------------------------------- scenario 1


def _cfg(sqlite: bool) -> dict[str, Any] | None:
    return {"configurable": {"thread_id": uuid.uuid4().hex}} if sqlite else None


def _inp(n: int) -> dict[str, Any]:
    return {"messages": [HumanMessage(f"seq:{n}")]}


def _kinds(state: dict[str, Any]) -> str:
    return "".join(type(m).__name__[0] for m in state["messages"])


def _db_counts(path: Path, thread_id: str) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        cps = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id=?",
                           (thread_id,)).fetchone()[0]
        writes = conn.execute("SELECT COUNT(*) FROM writes WHERE thread_id=?",
                              (thread_id,)).fetchone()[0]
    return cps, writes


def _parity(name: str, state: dict[str, Any], calls: int, db: Path | None,
            cfg: dict[str, Any] | None) -> str:
    """One side of a parity line: message kinds, model calls, SQLite rows of its thread."""
    extra = ""
    if db is not None and cfg is not None:
        cps, writes = _db_counts(db, cfg["configurable"]["thread_id"])
        extra = f" cp/writes={cps}/{writes}"
    return f"{name}: {_kinds(state)} calls={calls}{extra}"


class Scenario:
    """One (mode, storage) cell: each of ``SIDES`` at 1 and 5 delegations."""

    def __init__(self, mode: str, storage: str) -> None:
        self.mode, self.storage = mode, storage
        self.samples: dict[str, Samples] = {}
        self.parity: list[str] = []

    @property
    def label(self) -> str:
        return f"{self.mode}/{self.storage}"


class Side:
    """One variant of a scenario: its graph, its model (to count calls), its SQLite file."""

    def __init__(self, graph: CompiledStateGraph, model: ScriptedChatModel,
                 db: Path | None) -> None:
        self.graph, self.model, self.db = graph, model, db



async def run_async_scenario(sc: Scenario, tmp: Path, iterations: int, warmup: int) -> None:
    models = {name: ScriptedChatModel(policy=policy) for name in SIDES}
    if sc.storage == "sqlite":
        paths = {name: tmp / f"async_{name}.db" for name in SIDES}
        async with (async_sqlite_saver(paths["ours"]) as s_ours,
                    async_sqlite_saver(paths["traced"]) as s_traced,
                    async_sqlite_saver(paths["plain"]) as s_plain):
            savers = {"ours": s_ours, "traced": s_traced, "plain": s_plain}
            sides = {n: Side(build_side(n, models[n], savers[n], is_async=True), models[n],
                             paths[n]) for n in SIDES}
            await _async_body(sc, sides, iterations, warmup)
    else:
        sides = {n: Side(build_side(n, models[n], None, is_async=True), models[n], None)
                 for n in SIDES}
        await _async_body(sc, sides, iterations, warmup)


async def _async_body(sc: Scenario, sides: dict[str, Side], iterations: int,
                      warmup: int) -> None:
    sqlite = sc.storage == "sqlite"
    # parity check: same message kinds, same model calls, same checkpoint rows
    for n in (1, 5):
        line = []
        for name, side in sides.items():
            before = len(side.model.calls)
            cfg = _cfg(sqlite)
            state = await side.graph.ainvoke(_inp(n), cfg)
            line.append(_parity(name, state, len(side.model.calls) - before, side.db, cfg))
        sc.parity.append(f"n={n}  " + " | ".join(line))

    def variant(graph: CompiledStateGraph, n: int) -> Callable[[], Any]:
        return lambda: graph.ainvoke(_inp(n), _cfg(sqlite))

    sc.samples = await interleave_async(
        {f"{name}{n}": variant(side.graph, n) for n in (1, 5) for name, side in sides.items()},
        iterations=iterations, warmup=warmup)


def run_sync_scenario(sc: Scenario, tmp: Path, iterations: int, warmup: int) -> None:
    models = {name: ScriptedChatModel(policy=policy) for name in SIDES}
    if sc.storage == "sqlite":
        paths = {name: tmp / f"sync_{name}.db" for name in SIDES}
        with (sqlite_saver(paths["ours"]) as s_ours, sqlite_saver(paths["traced"]) as s_traced,
              sqlite_saver(paths["plain"]) as s_plain):
            savers = {"ours": s_ours, "traced": s_traced, "plain": s_plain}
            _sync_body(sc, {n: Side(build_side(n, models[n], savers[n], is_async=False),
                                    models[n], paths[n]) for n in SIDES}, iterations, warmup)
    else:
        _sync_body(sc, {n: Side(build_side(n, models[n], None, is_async=False), models[n], None)
                        for n in SIDES}, iterations, warmup)


def _sync_body(sc: Scenario, sides: dict[str, Side], iterations: int, warmup: int) -> None:
    sqlite = sc.storage == "sqlite"
    for n in (1, 5):
        line = []
        for name, side in sides.items():
            before = len(side.model.calls)
            cfg = _cfg(sqlite)
            state = side.graph.invoke(_inp(n), cfg)
            line.append(_parity(name, state, len(side.model.calls) - before, side.db, cfg))
        sc.parity.append(f"n={n}  " + " | ".join(line))

    def variant(graph: CompiledStateGraph, n: int) -> Callable[[], Any]:
        return lambda: graph.invoke(_inp(n), _cfg(sqlite))

    sc.samples = interleave(
        {f"{name}{n}": variant(side.graph, n) for n in (1, 5) for name, side in sides.items()},
        iterations=iterations, warmup=warmup)


# --------------------------------------------------------------------------- scenario 2


async def run_fanout(repeats: int) -> dict[str, Samples]:
    m_ours = ScriptedChatModel(policy=policy, latency=FANOUT_LATENCY)
    m_hand = ScriptedChatModel(policy=policy, latency=FANOUT_LATENCY)
    m_send = ScriptedChatModel(policy=policy, latency=FANOUT_LATENCY)
    ours = build_ours(m_ours, None)
    child = hand.build_child(m_hand, is_async=True)
    send = build_send_fanout(m_send)
    inp = {"messages": [HumanMessage(f"fan:{FANOUT_CHILDREN}")]}

    def check(messages: list[BaseMessage]) -> None:
        assert sum(isinstance(m, ToolMessage) for m in messages) == FANOUT_CHILDREN
        assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls

    async def run_ours() -> None:
        check((await ours.ainvoke(inp))["messages"])

    async def run_hand() -> None:
        check(await handwritten_gather(m_hand, child, FANOUT_CHILDREN))

    async def run_send() -> None:
        check((await send.ainvoke(inp))["messages"])

    # gc.collect() before each run: no variant pays for the previous one's garbage
    return await interleave_async({"ours": run_ours, "hand": run_hand, "send": run_send},
                                  iterations=repeats, warmup=1, collect=True)


# --------------------------------------------------------------------------- profiling


def profile_ours(rounds: int) -> str:
    """cProfile of every side (sync, in memory, 5 delegations): totals, then top src/ costs.

    In memory and sync, so checkpointer threads and the event loop do not blur the picture.
    """
    out = io.StringIO()
    stats: dict[str, pstats.Stats] = {}
    for name in SIDES:
        graph = build_side(name, ScriptedChatModel(policy=policy), None, is_async=False)
        for _ in range(5):
            graph.invoke(_inp(5))
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(rounds):
            graph.invoke(_inp(5))
        prof.disable()
        stats[name] = pstats.Stats(prof, stream=out)
        out.write(f"{name}: {stats[name].total_tt / rounds * 1000:.2f} ms per run under cProfile\n")
    stats["ours"].sort_stats("cumulative").print_stats(r"subagents/(?!testing)", 25)
    return out.getvalue()


# --------------------------------------------------------------------------- scenario 3


def build_foreign(model: ScriptedChatModel, *, is_async: bool) -> CompiledStateGraph:
    """The root delegating to the hand-written child as an own-graph sub-agent."""
    child = Agent.from_graph(hand.build_child(model, is_async=is_async), name="child",
                             description="Answers one subtask.")
    return compile_agent(Agent(name="root", model=model, subagents=[child]))


def run_foreign(iterations: int, warmup: int) -> dict[str, dict[str, Samples]]:
    """Own graph vs native child, per mode: samples ``own1/native1/own5/native5``."""
    out: dict[str, dict[str, Samples]] = {}
    for mode in ("async", "sync"):
        model = ScriptedChatModel(policy=policy)
        own, native = build_foreign(model, is_async=mode == "async"), build_ours(model, None)
        for graph in (own, native):  # parity: same kinds and model calls
            before = len(model.calls)
            state = (asyncio.run(graph.ainvoke(_inp(5))) if mode == "async"
                     else graph.invoke(_inp(5)))
            assert _kinds(state) == "H" + "AT" * 5 + "A", _kinds(state)
            assert len(model.calls) - before == 11
        if mode == "async":
            def avariant(graph: CompiledStateGraph, n: int) -> Callable[[], Any]:
                return lambda: graph.ainvoke(_inp(n))
            out[mode] = asyncio.run(interleave_async(
                {f"{k}{n}": avariant(g, n) for n in (1, 5)
                 for k, g in (("own", own), ("native", native))},
                iterations=iterations, warmup=warmup))
        else:
            def variant(graph: CompiledStateGraph, n: int) -> Callable[[], Any]:
                return lambda: graph.invoke(_inp(n))
            out[mode] = interleave(
                {f"{k}{n}": variant(g, n) for n in (1, 5)
                 for k, g in (("own", own), ("native", native))},
                iterations=iterations, warmup=warmup)
    return out
