"""Delegation overhead of ``subagents`` against hand-written LangGraph, with a scripted model.

Run: ``.venv/bin/python benchmarks/delegation.py [--quick] [--iterations N] [--profile]``

1. Per-delegation overhead: ``compile_agent`` of a root with one child (the root delegates via
   ``task``, the child answers, the root answers) against a hand-written parent StateGraph
   (model node + a node invoking a compiled child StateGraph with one HumanMessage and
   returning one ToolMessage), in two forms (``_hand.py``): *traced*, the baseline judged,
   with the tracing config every agent's runs carry (run name, ``subagent:<name>`` tag,
   ``lc_agent_name`` and ``subagents_path`` metadata on each graph via ``with_config``, the
   tool-call id in the child call's metadata), and *plain*, without it (ratio printed, not
   judged). The traced pair is the like-for-like baseline: that config is a product guarantee
   (every run inside an agent carries its ancestry path; tests/test_tracing_metadata.py) and
   LangChain/LangGraph copy it into every node and model call, about 2 points of the sync,
   in-memory ratio (1.10x without it against 1.13x with it, measured in alternating runs).
   Same ``ScriptedChatModel`` policy, same message counts, same checkpointer settings
   (``subagents.checkpoints`` WAL + synchronous=NORMAL savers on every side). Variants are
   interleaved (AB BA ...) after a warm-up. Runs with 1 and 5 sequential delegations;
   (t5 - t1) / 4 is the cost of one extra delegation. The ratio judged against the target
   is paired: the median over rounds of ours[i] / traced[i], each round running every
   variant back to back (drift of a shared VM cancels within a round); the ratio of the two
   medians and the CPU-time ratio are printed beside it.
2. Fan-out: 100 parallel sub-agents in one model turn with 200 ms model latency (async),
   judged against LangGraph's own fan-out written by hand (one ``Send`` per tool call to a
   node invoking the child): one ``Send`` per delegation is what makes each delegation its
   own durable task, a promise of this runtime. A hand-written ``asyncio.gather`` of the
   children in one node (a floor that gives that up; the Send graph measured 1.030-1.038x of
   it) and the critical path (3 model calls = 0.6 s) are printed beside it, not judged.
3. Own graphs: the same root delegating to the hand-written child graph as an own-graph
   sub-agent (``Agent.from_graph``: usage, budget and events read through callbacks) against
   the native child; same work (one model call per child), in memory, sync and async; the
   per-extra-delegation ratio own/native is judged against the same target.

The policy, constants and graph builders live in ``_delegation_common.py``, the measured runs
in ``_delegation_runs.py``; here: the report.

A report, not a test: it exits 0 even when a target is missed (printed as MISS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Samples, extra_ratio, fmt_ms, fmt_ratio, load_note, render_table, verdict
from _delegation_common import FANOUT_CHILDREN, FANOUT_LATENCY, FANOUT_TARGET, RATIO_TARGET, SIDES
from _delegation_runs import (
    Scenario,
    profile_ours,
    run_async_scenario,
    run_fanout,
    run_foreign,
    run_sync_scenario,
)

# --------------------------------------------------------------------------- report


def report_foreign(foreign: dict[str, dict[str, Samples]]) -> list[tuple[str, bool, str]]:
    rows, verdicts = [], []
    for mode, s in foreign.items():
        o1, n1, o5, n5 = s["own1"], s["native1"], s["own5"], s["native5"]
        rex = extra_ratio((o1, n1), (o5, n5))
        rows.append([mode, fmt_ms(o1.median), fmt_ms(n1.median), fmt_ratio(o1.ratio_to(n1)),
                     fmt_ms((o5.median - o1.median) / 4), fmt_ms((n5.median - n1.median) / 4),
                     fmt_ratio(rex)])
        verdicts.append((f"own graph {mode} (per extra delegation) own/native {rex:.2f}x "
                         f"<= {RATIO_TARGET:.2f}x", rex <= RATIO_TARGET, ""))
    print(render_table(["mode", "own 1 ms", "native 1 ms", "own/native", "own extra ms",
                        "native extra ms", "extra own/native"], rows))
    return verdicts


def _scenario_rows(sc: Scenario) -> tuple[list[list[str]], float, float]:
    """Table rows of one scenario, and its judged ratios (one, per extra) ours/traced."""
    s = sc.samples
    o1, t1, p1, o5, t5, p5 = (s[f"{k}{n}"] for n in (1, 5) for k in SIDES)
    ex_o, ex_t, ex_p = ((b.median - a.median) / 4 for a, b in ((o1, o5), (t1, t5), (p1, p5)))
    mex = ex_o / ex_t if ex_t > 0 else float("nan")
    r1, r5, rex = o1.ratio_to(t1), o5.ratio_to(t5), extra_ratio((o1, t1), (o5, t5))
    c1, c5 = o1.ratio_to(t1, cpu=True), o5.ratio_to(t5, cpu=True)
    cex = extra_ratio((o1, t1), (o5, t5), cpu=True)
    q1, q5, qex = o1.ratio_to(p1), o5.ratio_to(p5), extra_ratio((o1, p1), (o5, p5))
    rows = [
        [sc.label, "1 deleg", fmt_ms(o1.median), fmt_ms(o1.p90), fmt_ms(t1.median),
         fmt_ms(t1.p90), fmt_ms(p1.median), fmt_ratio(r1), fmt_ratio(o1.median / t1.median),
         fmt_ratio(c1), fmt_ratio(q1)],
        [sc.label, "5 deleg", fmt_ms(o5.median), fmt_ms(o5.p90), fmt_ms(t5.median),
         fmt_ms(t5.p90), fmt_ms(p5.median), fmt_ratio(r5), fmt_ratio(o5.median / t5.median),
         fmt_ratio(c5), fmt_ratio(q5)],
        [sc.label, "per extra", fmt_ms(ex_o), "", fmt_ms(ex_t), "", fmt_ms(ex_p),
         fmt_ratio(rex), fmt_ratio(mex), fmt_ratio(cex), fmt_ratio(qex)],
    ]
    return rows, r1, rex


def report_scenarios(scenarios: list[Scenario]) -> list[tuple[str, bool, str]]:
    rows, verdicts = [], []
    for sc in scenarios:
        sc_rows, r1, rex = _scenario_rows(sc)
        rows.extend(sc_rows)
        verdicts.append((f"overhead {sc.label} (1 delegation) ours/traced hand {r1:.3f}x "
                         f"<= {RATIO_TARGET:.2f}x", r1 <= RATIO_TARGET, ""))
        verdicts.append((f"overhead {sc.label} (per extra delegation) ours/traced hand "
                         f"{rex:.3f}x <= {RATIO_TARGET:.2f}x", rex <= RATIO_TARGET, ""))
    print(render_table(["mode/storage", "run", "ours med ms", "ours p90", "traced med ms",
                        "traced p90", "plain med ms", "ours/traced", "of medians", "cpu",
                        "ours/plain"], rows))
    print("(traced: the hand-written pair with this runtime's tracing config (run names, "
          "subagent:<name> tags, lc_agent_name/subagents_path metadata, the tool-call id in "
          "the child call's metadata); plain: the same pair without it. ours/traced, the "
          "target: median over rounds of the paired ratio, each round running every variant "
          "back to back; of medians: ratio of the two wall-time medians; cpu: paired ratio of "
          "process CPU time; ours/plain: paired, reported, not judged; "
          "per extra = (t5 - t1) / 4)")
    return verdicts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few iterations (CI smoke)")
    ap.add_argument("--iterations", type=int, default=None,
                    help="timed rounds per variant (default 200, quick 15)")
    ap.add_argument("--fanout-repeats", type=int, default=None,
                    help="fan-out repeats (default 15, quick 2)")
    ap.add_argument("--profile", action="store_true",
                    help="also print a cProfile of this runtime's delegation path")
    args = ap.parse_args(argv)
    iterations = args.iterations or (15 if args.quick else 200)
    warmup = max(3, iterations // 10)
    repeats = args.fanout_repeats or (2 if args.quick else 15)

    import langgraph.version as lgv

    print(f"python {sys.version.split()[0]}  langgraph {getattr(lgv, '__version__', '?')}  "
          f"cpus {os.cpu_count()}  iterations {iterations} (+{warmup} warm-up)  "
          f"fan-out repeats {repeats}")
    print(f"start: {load_note()}")
    t_start = time.perf_counter()
    scenarios = [Scenario("async", "memory"), Scenario("async", "sqlite"),
                 Scenario("sync", "memory"), Scenario("sync", "sqlite")]
    with tempfile.TemporaryDirectory(prefix="subagents-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for sc in scenarios:
            if sc.mode == "async":
                asyncio.run(run_async_scenario(sc, tmp, iterations, warmup))
            else:
                run_sync_scenario(sc, tmp, iterations, warmup)
        fan = asyncio.run(run_fanout(repeats))
        foreign = run_foreign(iterations, warmup)
        prof_text = profile_ours(100 if not args.quick else 10) if args.profile else ""

    print("\n== 1. Per-delegation overhead: subagents vs hand-written LangGraph "
          "(scripted model, no latency) ==")
    print("parity (message kinds H/A/T, model calls, SQLite checkpoints/writes per thread):")
    for sc in scenarios:
        for line in sc.parity:
            print(f"  {sc.label:13s} {line}")
    print()
    verdicts = report_scenarios(scenarios)

    print(f"\n== 2. Fan-out: {FANOUT_CHILDREN} sub-agents in one turn, "
          f"{FANOUT_LATENCY * 1000:.0f} ms model latency (async, in memory) ==")
    critical = 3 * FANOUT_LATENCY
    o, h, sd = fan["ours"], fan["hand"], fan["send"]

    def fan_row(label: str, x: Samples) -> list[str]:
        return [label, f"{x.median:.3f}", f"{x.p90:.3f}", f"{x.cpu_median:.3f}",
                fmt_ratio(x.median / critical), fmt_ratio(x.median / sd.median),
                fmt_ratio(x.median / h.median)]

    rows = [fan_row("subagents (compile_agent)", o),
            fan_row("hand-written Send graph", sd),
            fan_row("hand-written asyncio.gather", h),
            ["critical path (3 model calls)", f"{critical:.3f}", "", "", fmt_ratio(1.0), "", ""]]
    print(render_table(["variant", "median s", "p90 s", "cpu s", "vs critical", "vs Send",
                        "vs gather"], rows))
    print("(Send graph: LangGraph's own fan-out, one Send per tool call to a node invoking the "
          "child, the baseline judged; gather: all children in one node, reported, not judged)")
    fr = o.ratio_to(sd)
    print(f"ours/Send graph paired (median over rounds): {fr:.3f}x; "
          f"cpu {o.ratio_to(sd, cpu=True):.3f}x; ours/gather {o.ratio_to(h):.3f}x; "
          f"Send graph/gather {sd.ratio_to(h):.3f}x")
    verdicts.append((f"fan-out ours/Send graph {fr:.3f}x <= {FANOUT_TARGET:.2f}x",
                     fr <= FANOUT_TARGET, ""))

    print("\n== 3. Own graph (Agent.from_graph) vs native child, same work, in memory ==")
    verdicts.extend(report_foreign(foreign))

    if prof_text:
        print("\n== cProfile: sync, in memory, 5 delegations ==")
        print(prof_text)

    print("\n== Targets ==")
    for text, ok, _ in verdicts:
        print(f"{verdict(ok)}  {text}")
    print(f"\nend: {load_note()}")
    missed = sum(not ok for _, ok, _ in verdicts)
    print(f"\n{len(verdicts) - missed}/{len(verdicts)} targets met; "
          f"total runtime {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
