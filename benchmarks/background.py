"""Parallel and background sub-agents at scale, against a hand-written ``asyncio.gather``.

Run: ``.venv/bin/python benchmarks/background.py [--quick] [--repeats N] [--profile]``

Async, in memory, every model call sleeps 200 ms (``ScriptedChatModel(latency=0.2)``), one
stateless policy shared by every side.

1. Parallel: 100 sub-agents as synchronous ``task`` calls in one root turn (one ``Send`` per
   call), against the critical path (3 model calls = 0.6 s) and a hand-written gather: root
   model call, ``asyncio.gather`` of 100 compiled child graphs (``ainvoke``), root model call.
2. Background: the root starts 100 / 1,000 children with ``task(..., background=True)`` in one
   turn, calls ``agent_await(ids, mode="all")`` on its next turn, then answers (3 root model
   calls; the children run during the second). Compared with the same hand-written gather of
   the same children (the target), and, for information, a hand-written background run making
   the same 3 root calls (``create_task`` per child, root call, gather, root call).
3. Memory per background child: peak of a run with 1,000 children minus a run with 0, divided
   by 1,000; tracemalloc peak and peak-RSS delta, each measured in a fresh subprocess. The
   hand-written gather is the baseline.
4. Persistence: the 100-child background run on SQLite (one file, a new thread per run), with
   ``BackgroundConfig()`` (``persist=None``, the default: each child on its own checkpoint thread,
   the table in the root's checkpoint, so a new process re-attaches them) against
   ``persist=False`` (children inside the root's run); target: < 10% slower.
   ``--persistence`` runs only this section.

Variants are interleaved (AB BA ...), ``gc.collect()`` before each run; ratios judged against
the targets are paired (the median over rounds of the per-round ratio), the ratio of the
medians is printed beside them; CPU time (process time) is printed next to wall time
because the 1,000-child runs are CPU-bound. A report, not a test: it exits 0 even when a
target is missed (printed as MISS).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _hand as hand
from _common import Samples, fmt_ratio, interleave_async, load_note, render_table, verdict
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph.state import CompiledStateGraph

from subagents import Agent, BackgroundConfig, compile_agent
from subagents.checkpoints import async_sqlite_saver
from subagents.nodes.schemas import lifecycle_specs, task_spec
from subagents.testing import ScriptedChatModel, call

LATENCY = 0.2
CRITICAL = 3 * LATENCY
TARGET_PARALLEL = 1.05
TARGET_BG = {100: 1.05, 1000: 1.15}
TARGET_MB_PER_CHILD = 1.0
TARGET_PERSIST = 1.10
MEM_CHILDREN = 1000
CHILD_PREFIX = "subtask"

# --------------------------------------------------------------------------- the shared policy


def _running_ids(messages: list[BaseMessage]) -> list[str]:
    ids = []
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == "task":
            payload = json.loads(str(m.content))
            if payload.get("status") == "running":
                ids.append(payload["id"])
    return ids


def policy(messages: list[BaseMessage], agent: str | None = None) -> AIMessage:
    """Stateless script shared by every side; it never looks at ``agent``.

    ``subtask ...`` (a child): answer. ``fan:N`` (root): N task calls in one turn, then answer.
    ``bg:N`` (root): N background task calls in one turn, then ``agent_await(ids, "all")``,
    then answer.
    """
    task = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    text = str(task.content)
    if text.startswith(CHILD_PREFIX):
        return AIMessage(content=f"answer to {text}")
    kind, _, count = text.partition(":")
    n = int(count)
    tools = [m for m in messages if isinstance(m, ToolMessage)]
    if kind == "fan" and not tools and n:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {i}") for i in range(n)])
    if kind == "bg" and not tools and n:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {i}", background=True)
            for i in range(n)])
    if kind == "bg" and n and not any(m.name == "agent_await" for m in tools):
        return AIMessage(content="", tool_calls=[
            call("agent_await", ids=_running_ids(messages), mode="all")])
    return AIMessage(content=f"root answer from {len(tools)} results")


_Graph = CompiledStateGraph[Any, Any, Any, Any]
CHILD = Agent(name="child", description="Answers one subtask.")
TASK_TOOL = task_spec([CHILD], with_context=True)
BG_TOOLS = [task_spec([CHILD], with_context=True, background=True),
            *lifecycle_specs(Agent(name="x", background=True).background_config)]  # type: ignore[arg-type]


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(policy=policy, latency=LATENCY)


def _forget(model: ScriptedChatModel) -> None:
    # the model records every call; drop them so repeats neither grow memory nor GC work
    model._calls.clear()


# --------------------------------------------------------------------------- this runtime


def build_ours(model: ScriptedChatModel, *, background: bool) -> _Graph:
    return compile_agent(Agent(name="root", model=model, subagents=[CHILD],
                               background=background))


async def run_ours(graph: _Graph, prompt: str) -> list[BaseMessage]:
    state = await graph.ainvoke({"messages": [HumanMessage(prompt)]})
    messages: list[BaseMessage] = state["messages"]
    return messages


# --------------------------------------------------------------------------- hand-written
# The pieces (state, child, parent, ToolMessage) live in _hand.py, shared with delegation.py
# and vs_deepagents.py; here: json.dumps(ensure_ascii=False), a missing tool-call id -> "".


def build_child(model: ScriptedChatModel) -> _Graph:
    """The hand-written child: START -> model -> END, no tools bound."""
    return hand.build_child(model, is_async=True)


async def hand_gather(model: ScriptedChatModel, child: _Graph,
                      n: int) -> list[BaseMessage]:
    """Root model call, ``asyncio.gather`` of n child graphs, root model call."""
    return await hand.gather(model, [TASK_TOOL], child, n, ensure_ascii=False, empty_id=True)


async def hand_background(model: ScriptedChatModel, child: _Graph,
                          n: int) -> list[BaseMessage]:
    """The background flow by hand (same 3 root calls): spawn, root call, gather, root call."""
    bound = model.bind_tools(BG_TOOLS)
    messages: list[BaseMessage] = [HumanMessage(f"bg:{n}")]
    first = await bound.ainvoke(messages)
    loop = asyncio.get_running_loop()
    jobs = {f"h_{i}": loop.create_task(child.ainvoke(hand.child_input(tc)))
            for i, tc in enumerate(first.tool_calls)}
    started = [hand.tool_message(tc, {"status": "running", "agent": "child", "result": None,
                                      "error": None, "id": job},
                                 ensure_ascii=False, empty_id=True)
               for tc, job in zip(first.tool_calls, jobs, strict=True)]
    messages = [*messages, first, *started]
    second = await bound.ainvoke(messages)
    messages.append(second)
    for tc in second.tool_calls:
        ids = tc["args"]["ids"]
        states = await asyncio.gather(*(jobs[i] for i in ids))
        results = [{"id": i, **hand.child_result(st)} for i, st in zip(ids, states, strict=True)]
        messages.append(hand.tool_message(tc, {"status": "completed", "mode": "all",
                                               "results": results, "error": None},
                                          ensure_ascii=False, empty_id=True))
    return [*messages, await bound.ainvoke(messages)]


def build_send_graph(model: ScriptedChatModel, child: _Graph) -> _Graph:
    """Info only: LangGraph's own fan-out idiom by hand, one ``Send`` per tool call to a node
    invoking the child (this runtime's shape without this runtime)."""
    return hand.build_send_parent(model.bind_tools([TASK_TOOL]), child, ensure_ascii=False,
                                  empty_id=True)


# --------------------------------------------------------------------------- checks


def _check(messages: list[BaseMessage], n: int, *, background: bool) -> None:
    tools = [m for m in messages if isinstance(m, ToolMessage)]
    assert sum(m.name == "task" for m in tools) == n, "wrong number of task results"
    assert all(m.status != "error" for m in tools), [m.content for m in tools
                                                     if m.status == "error"][:3]
    last = messages[-1]
    assert isinstance(last, AIMessage) and not last.tool_calls, "the root did not answer"
    if background and n:
        (awaited,) = [m for m in tools if m.name == "agent_await"]
        payload = json.loads(str(awaited.content))
        assert payload["status"] == "completed", payload.get("error")
        assert len(payload["results"]) == n
        assert all(r["status"] == "completed" and r["result"].startswith("answer to")
                   for r in payload["results"])


# --------------------------------------------------------------------------- variants


Variant = Callable[[], Coroutine[Any, Any, None]]


def make_variants(n: int, *, parallel: bool) -> dict[str, Variant]:
    """The variants of one scenario: ours, hand-written gather (target), and info rows."""
    m_ours, m_hand, m_hbg = _model(), _model(), _model()
    hand_child, hbg_child = build_child(m_hand), build_child(m_hbg)
    ours = build_ours(m_ours, background=not parallel)
    prompt = f"fan:{n}" if parallel else f"bg:{n}"

    async def v_ours() -> None:
        _check(await run_ours(ours, prompt), n, background=not parallel)
        _forget(m_ours)

    async def v_hand() -> None:
        _check(await hand_gather(m_hand, hand_child, n), n, background=False)
        _forget(m_hand)

    async def v_hbg() -> None:
        _check(await hand_background(m_hbg, hbg_child, n), n, background=True)
        _forget(m_hbg)

    out = {"ours": v_ours, "gather": v_hand}
    if not parallel:
        out["hand_bg"] = v_hbg
    else:
        send = build_send_graph(m_hbg, hbg_child)

        async def v_send() -> None:
            _check(await run_ours(send, prompt), n, background=False)
            _forget(m_hbg)
        out["send"] = v_send
    return out


# --------------------------------------------------------------------------- persistence


async def timed_persistence(n: int, repeats: int, db: Path) -> dict[str, Samples]:
    """The n-child background run on one SQLite file, persisted or not (a thread per run)."""
    async with async_sqlite_saver(db) as saver:
        variants: dict[str, Callable[[], Awaitable[object]]] = {}
        for persist in (None, False):
            model = _model()
            graph = compile_agent(Agent(name="root", model=model, subagents=[CHILD],
                                        background=BackgroundConfig(persist=persist)),
                                  checkpointer=saver)
            runs = iter(range(1_000_000))

            async def run(graph: _Graph = graph, model: ScriptedChatModel = model,
                          tag: str = f"p{int(persist is None)}", runs: Any = runs) -> None:
                cfg = {"configurable": {"thread_id": f"{tag}-{next(runs)}"}}
                state = await graph.ainvoke({"messages": [HumanMessage(f"bg:{n}")]}, cfg)
                _check(state["messages"], n, background=True)
                assert bool(state.get("background")) is tag.endswith("1"), "persist switch"
                _forget(model)

            variants["not persisted" if persist is False else "persisted"] = run
        return await interleave_async(variants, iterations=repeats, warmup=1, collect=True)


def persistence_report(repeats: int) -> tuple[str, bool]:
    """Section 4's table and its verdict."""
    with tempfile.TemporaryDirectory() as tmp:
        s = asyncio.run(timed_persistence(100, repeats, Path(tmp) / "bg.sqlite"))
    ref = s["not persisted"]
    print("\n== 4. Persistence: 100 background children on SQLite, default vs persist=False ==")
    print(render_table(HEADERS, [_row("persisted (own threads, table)", s["persisted"], ref),
                                 _row("not persisted", ref, ref)]))
    print("(here 'vs gather' is vs the run without persistence)")
    r = s["persisted"].ratio_to(ref)
    return f"persistence, 100 children on SQLite: {r:.3f}x <= {TARGET_PERSIST:.2f}x", (
        r <= TARGET_PERSIST)


# --------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in KB (VmRSS: now, VmHWM: peak of this process image;
    ``ru_maxrss`` is no use here: it keeps the parent's peak across fork + exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    try:  # Linux >= 4.0: "5" resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def memory_probe(variant: str, n: int) -> dict[str, float]:
    """In this (fresh) process: peak-RSS delta of one run, then tracemalloc peak of another."""
    v = make_variants(n, parallel=False)[variant]
    warm = make_variants(5, parallel=False)[variant]
    asyncio.run(warm())  # imports, caches, first-call costs
    gc.collect()
    _reset_peak_rss()
    base = _status_kb("VmRSS")
    asyncio.run(v())
    rss_peak = _status_kb("VmHWM")
    gc.collect()
    tracemalloc.start()
    asyncio.run(v())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rss_delta_kb": max(0, rss_peak - base), "tm_peak": peak}


def measure_memory(n: int) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {"ours": {}, "gather": {}}
    for count in (0, n):
        for variant in ("ours", "gather"):
            proc = subprocess.run(
                [sys.executable, __file__, "--memory-probe", variant, str(count)],
                check=True, capture_output=True, text=True)
            out[variant][count] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------- profiling


async def _gc_share(fn: Variant) -> tuple[float, float, dict[int, int]]:
    """(process time, process time inside the cyclic GC, collections per generation)."""
    spent, count, start = [0.0], {0: 0, 1: 0, 2: 0}, [0.0]

    def hook(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            start[0] = time.process_time()
        else:
            spent[0] += time.process_time() - start[0]
            count[info["generation"]] += 1

    gc.collect()
    gc.callbacks.append(hook)
    c0 = time.process_time()
    try:
        await fn()
    finally:
        gc.callbacks.remove(hook)
    return time.process_time() - c0, spent[0], count


async def _profile_pair(n: int, rounds: int) -> tuple[pstats.Stats, pstats.Stats, str]:
    v = make_variants(n, parallel=False)
    await v["ours"]()
    await v["gather"]()
    buf = io.StringIO()
    for name in ("ours", "gather"):
        cpu, in_gc, count = await _gc_share(v[name])
        buf.write(f"{name}: {cpu:.3f} s CPU, of which cyclic GC {in_gc:.3f} s "
                  f"({in_gc / cpu:.0%}; collections per generation {count})\n")
    stats = {}
    for name in ("ours", "gather"):
        prof = cProfile.Profile()
        gc.collect()
        gc.disable()  # GC pauses land on whatever runs; measured apart above
        c0 = time.process_time()
        prof.enable()
        for _ in range(rounds):
            await v[name]()
        prof.disable()
        gc.enable()
        cpu = (time.process_time() - c0) / rounds
        stats[name] = pstats.Stats(prof, stream=buf)
        buf.write(f"{name}: {cpu:.3f} s CPU per run under cProfile (GC off)\n")
    return stats["ours"], stats["gather"], buf.getvalue()


def profile_report(sizes: tuple[int, ...], rounds: int) -> str:
    """cProfile of the background runs: totals, then the top subagents/ and overall costs."""
    out = io.StringIO()
    for n in sizes:
        ours, hand, head = asyncio.run(_profile_pair(n, rounds))
        out.write(f"--- {n} background children ({rounds} run(s) each) ---\n{head}")
        ours.stream = out  # type: ignore[attr-defined]
        out.write("ours, by tottime (top 25):\n")
        ours.sort_stats("tottime").print_stats(25)
        out.write("ours, subagents/ by cumulative (top 20):\n")
        ours.sort_stats("cumulative").print_stats(r"subagents/(?!testing)", 20)
        hand.stream = out  # type: ignore[attr-defined]
        out.write("hand-written gather, by tottime (top 12):\n")
        hand.sort_stats("tottime").print_stats(12)
    return out.getvalue()


# --------------------------------------------------------------------------- report


def _row(label: str, x: Samples, ref: Samples | None) -> list[str]:
    return [label, f"{x.median:.3f}", f"{x.p90:.3f}", f"{x.cpu_median:.3f}",
            fmt_ratio(x.median / CRITICAL),
            fmt_ratio(x.ratio_to(ref)) if ref else "",
            fmt_ratio(x.median / ref.median) if ref else "",
            fmt_ratio(x.ratio_to(ref, cpu=True)) if ref else ""]


HEADERS = ["variant", "median s", "p90 s", "cpu s", "vs critical", "vs gather",
           "of medians", "cpu vs gather"]
RATIO_NOTE = ("(vs gather, the target: paired, the median over rounds of the per-round ratio, "
              "every variant running back to back in each round; of medians: ratio of the two "
              "medians; cpu: paired ratio of process CPU time)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (CI smoke)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats of the 100-child runs (default 11, quick 2); the 1,000-child "
                    "runs get max(1, repeats // 2)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    ap.add_argument("--profile", action="store_true", help="also print cProfile of 100/1,000")
    ap.add_argument("--persistence", action="store_true", help="only section 4 (SQLite)")
    ap.add_argument("--memory-probe", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe[0], int(args.memory_probe[1]))))
        return 0
    r100 = args.repeats or (2 if args.quick else 11)
    if args.persistence:
        text, ok = persistence_report(r100)
        print(f"\n{verdict(ok)}  {text}\nend: {load_note()}")
        return 0
    r1000 = max(1, r100 // 2)

    import langgraph.version as lgv

    print(f"python {sys.version.split()[0]}  langgraph {getattr(lgv, '__version__', '?')}  "
          f"cpus {os.cpu_count()}  latency {LATENCY * 1000:.0f} ms  repeats {r100} (100) / "
          f"{r1000} (1,000)")
    print(f"start: {load_note()}")
    t_start = time.perf_counter()

    async def timed(n: int, parallel: bool, repeats: int) -> dict[str, Samples]:
        variants: dict[str, Callable[[], Awaitable[object]]] = {
            **make_variants(n, parallel=parallel)}
        return await interleave_async(variants, iterations=repeats, warmup=1, collect=True)

    par = asyncio.run(timed(100, True, r100))
    bg = {100: asyncio.run(timed(100, False, r100)), 1000: asyncio.run(timed(1000, False, r1000))}
    mem = None if args.no_memory else measure_memory(MEM_CHILDREN)
    verdicts: list[tuple[str, bool]] = []

    print("\n== 1. Parallel: 100 sub-agents as sync task calls in one turn "
          f"({LATENCY * 1000:.0f} ms latency, async, in memory) ==")
    g = par["gather"]
    print(render_table(HEADERS, [
        _row("subagents (task x100, one turn)", par["ours"], g),
        _row("hand-written asyncio.gather", g, g),
        _row("hand-written Send graph (info)", par["send"], g),
        ["critical path (3 model calls)", f"{CRITICAL:.3f}", "", "", fmt_ratio(1.0), "", "",
         ""]]))
    print("(Send graph: LangGraph's own one-Send-per-call fan-out by hand, i.e. the floor of "
          "one durable task per delegation; not a target)")
    print(RATIO_NOTE)
    r = par["ours"].ratio_to(g)
    verdicts.append((f"parallel 100: ours/gather {r:.3f}x <= {TARGET_PARALLEL:.2f}x",
                     r <= TARGET_PARALLEL))

    for n, s in bg.items():
        print(f"\n== 2. Background: {n:,} sub-agents (task(background=True) x{n}, "
              "agent_await all, answer) ==")
        g = s["gather"]
        print(render_table(HEADERS, [
            _row(f"subagents (background x{n})", s["ours"], g),
            _row("hand-written asyncio.gather", g, g),
            _row("hand-written background (info)", s["hand_bg"], g),
            ["critical path (3 model calls)", f"{CRITICAL:.3f}", "", "", fmt_ratio(1.0), "",
             "", ""]]))
        r = s["ours"].ratio_to(g)
        verdicts.append((f"background {n:,}: ours/gather {r:.3f}x <= {TARGET_BG[n]:.2f}x",
                         r <= TARGET_BG[n]))
    print("(hand-written background: create_task per child, the same 3 root model calls as "
          "ours; not a target)")

    if mem is not None:
        print(f"\n== 3. Memory per background child ({MEM_CHILDREN:,} children minus 0, fresh "
              "subprocess per probe) ==")
        rows = []
        per: dict[str, tuple[float, float]] = {}
        for variant, label in (("ours", "subagents background"),
                               ("gather", "hand-written gather")):
            m0, m1 = mem[variant][0], mem[variant][MEM_CHILDREN]
            tm = (m1["tm_peak"] - m0["tm_peak"]) / MEM_CHILDREN / 1024
            rss = (m1["rss_delta_kb"] - m0["rss_delta_kb"]) / MEM_CHILDREN
            per[variant] = (tm, rss)
            rows.append([label, f"{m0['tm_peak'] / 2**20:.1f}", f"{m1['tm_peak'] / 2**20:.1f}",
                         f"{tm:.1f}", f"{m0['rss_delta_kb'] / 1024:.1f}",
                         f"{m1['rss_delta_kb'] / 1024:.1f}", f"{rss:.1f}"])
        print(render_table(["variant", "tm peak 0 MB", f"tm peak {MEM_CHILDREN} MB",
                            "tm KB/child", "rss d 0 MB", f"rss d {MEM_CHILDREN} MB",
                            "rss KB/child"], rows))
        print("(tm: tracemalloc peak of Python allocations; rss d: peak RSS minus RSS before "
              "the run)")
        worst = max(per["ours"]) / 1024
        verdicts.append((f"memory per background child {worst:.3f} MB "
                         f"(max of tracemalloc, RSS) < {TARGET_MB_PER_CHILD:.0f} MB "
                         f"(gather: {max(per['gather']) / 1024:.3f} MB)",
                         worst < TARGET_MB_PER_CHILD))

    verdicts.append(persistence_report(r100))

    if args.profile:
        print("\n== cProfile: background runs, ours vs hand-written gather ==")
        print(profile_report((100, 1000), 1))

    print("\n== Targets ==")
    for text, ok in verdicts:
        print(f"{verdict(ok)}  {text}")
    print(f"\nend: {load_note()}")
    missed = sum(not ok for _, ok in verdicts)
    print(f"\n{len(verdicts) - missed}/{len(verdicts)} targets met; "
          f"total runtime {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
