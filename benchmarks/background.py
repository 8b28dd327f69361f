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

The policy, constants, builders and variants live in ``_background_common.py``, the memory
probes and the cProfile in ``_background_probes.py``; here: the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _background_common import (
    CRITICAL,
    LATENCY,
    MEM_CHILDREN,
    TARGET_BG,
    TARGET_MB_PER_CHILD,
    TARGET_PARALLEL,
    TARGET_PERSIST,
    make_variants,
    timed_persistence,
)
from _background_probes import measure_memory, memory_probe, profile_report
from _common import Samples, fmt_ratio, interleave_async, load_note, render_table, verdict

# --------------------------------------------------------------------------- persistence


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
    mem = None if args.no_memory else measure_memory(MEM_CHILDREN, __file__)
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
