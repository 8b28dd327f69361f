"""``subagents`` against deepagents' ``task`` tool and a hand-written LangGraph pair.

Run: ``.venv/bin/python benchmarks/vs_deepagents.py [--quick]`` (needs ``pip install
deepagents`` in the same venv; without it the script says so and exits 0).

The same stateless ``ScriptedChatModel`` policy drives every implementation of "a root model
delegates to a child sub-agent through a tool call" (builders in ``_vs_deep_build.py``):

* **ours**: ``compile_agent(Agent(root, subagents=[child]))`` (a fan-out is one LangGraph
  ``Send`` task per call);
* **hand**: a hand-written parent ``StateGraph`` (model node + one node that invokes a compiled
  child ``StateGraph`` per tool call with ``asyncio.gather``, one ``ToolMessage`` each);
* **hand_send** (fan-out only, info): the same by hand with one ``Send`` per tool call to a node
  that invokes the child, i.e. LangGraph's own per-task cost without this runtime;
* **deep_default**: ``deepagents.create_deep_agent(model, name, subagents=[child],
  checkpointer)`` with every other argument at its default, as deepagents' users run it (its
  full default middleware, the general-purpose sub-agent, ``StateBackend``). The target's
  reference;
* **deep_min** (info): deepagents stripped to the minimum its API allows (a harness profile
  excluding middleware, no general-purpose sub-agent, one file tool).

Measured (variants interleaved in every round, order alternating, after a warm-up):

1. per-delegation time: a run with 1 delegation and the cost of one extra delegation
   ((t5 - t1) / 4), with no checkpointer, ``InMemorySaver`` and SQLite
   (``subagents.checkpoints.async_sqlite_saver``: WAL + synchronous=NORMAL) for all;
2. fan-out: 20 task calls in one model turn, 50 ms model latency, no checkpointer: time above
   the critical path (3 model calls);
3. graph build time (constructing the agent / compiling the graphs);
4. memory after import: RSS delta of importing each library, each in a fresh subprocess
   (judged against hand-written only: every variant loads LangGraph and LangChain, so a
   fraction of deepagents' import is not a meaningful target).

Ratios judged against the targets (ours <= 1.1x hand, ours <= 0.25x deep_default) are paired:
the median over rounds of the per-round ratio (``Samples.ratio_to``; ``extra_ratio`` for the
per-extra cost; (a[i] - critical) / (b[i] - critical) for fan-out), so drift of the machine
within a run cancels; the plain ratio of the two medians is printed beside them.

The measured runs and the constants live in ``_vs_deep_runs.py``; here: the report.

A report, not a test: it exits 0 even when a target is missed (printed as MISS).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Samples, extra_ratio, fmt_ms, fmt_ratio, load_note, render_table, verdict
from _vs_deep_build import DEEP_DEFAULT_NOTE, DEEP_MIN_NOTE, describe_deep
from _vs_deep_runs import (
    CRITICAL_PATH,
    FAN_VARIANTS,
    FANOUT_CHILDREN,
    FANOUT_LATENCY,
    IMPORTS,
    RATIOS,
    TARGETS,
    VARIANTS,
    VS_DEEP_TARGET,
    VS_HAND_TARGET,
    Cell,
    above_ratio,
    run_build,
    run_cell,
    run_fanout,
    run_import_memory,
)

# --------------------------------------------------------------------------- report


def _ratio_cell(r: float | None) -> str:
    if r is None:
        return ""
    return "  n/a" if math.isnan(r) else fmt_ratio(r)


class Report:
    """Two tables with the same rows: medians per implementation, then ratios + verdicts."""

    def __init__(self) -> None:
        self.values: list[list[str]] = []
        self.ratios: list[list[str]] = []
        self.verdicts: list[tuple[str, bool]] = []

    def add(self, label: str, unit: str, fmt: Callable[[float], str], values: dict[str, float],
            paired: dict[tuple[str, str], float], *, target: bool = True,
            hand_only: bool = False) -> None:
        """One measure; ``hand_only``: only the ours/hand ratio carries its target."""
        self.values.append([label, unit, *(fmt(values[c]) if c in values else ""
                                           for c in VARIANTS)])
        cells, marks = [], []
        for a, b in RATIOS:
            cells.append(_ratio_cell(paired.get((a, b))))
            if (a, b) not in TARGETS:
                continue
            plain = (values[a] / values[b] if a in values and b in values and values[b] > 0
                     else None)
            cells.append(_ratio_cell(plain))
            r = paired.get((a, b))
            if target and r is not None and not (hand_only and b != "hand"):
                ok = r <= TARGETS[a, b]
                marks.append(verdict(ok))
                self.verdicts.append((f"{label}: {a}/{b} {r:.2f}x <= {TARGETS[a, b]:.2f}x", ok))
        self.ratios.append([label, *cells, "/".join(marks) if marks else "info"])

    def print(self) -> None:
        print(render_table(["measure", "unit", *VARIANTS], self.values))
        print()
        print(render_table(["measure", "ours/hand", "of medians", "ours/deep_default",
                            "of medians", "ours/deep_min", "deep_default/hand", "verdict"],
                           self.ratios))


def pairs(fn: Callable[[str, str], float], have: tuple[str, ...] = VARIANTS,
          ) -> dict[tuple[str, str], float]:
    """``fn`` for every ratio column whose two sides were measured."""
    return {(a, b): fn(a, b) for a, b in RATIOS if a in have and b in have}


def _mb(x: float) -> str:
    return f"{x / 2**20:8.1f}"


@contextmanager
def _section(title: str) -> Iterator[None]:
    t0 = time.perf_counter()
    print(f"... {title}", file=sys.stderr, flush=True)
    yield
    print(f"    done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def report_delegation(rep: Report, cells: list[Cell], *, cpu: bool = False) -> None:
    for cell in cells:
        s = cell.samples

        def med(k: str, s: dict[str, Samples] = s) -> float:
            return s[k].cpu_median if cpu else s[k].median

        one = {v: med(f"{v}1") for v in VARIANTS}
        extra = {v: (med(f"{v}5") - med(f"{v}1")) / 4 for v in VARIANTS}
        rep.add(f"1-delegation run, cp={cell.storage}", "ms", fmt_ms, one,
                pairs(lambda a, b, s=s: s[f"{a}1"].ratio_to(s[f"{b}1"], cpu=cpu)),
                target=not cpu)
        rep.add(f"per extra delegation, cp={cell.storage}", "ms", fmt_ms, extra,
                pairs(lambda a, b, s=s: extra_ratio((s[f"{a}1"], s[f"{b}1"]),
                                                    (s[f"{a}5"], s[f"{b}5"]), cpu=cpu)),
                target=not cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    ap.add_argument("--iterations", type=int, default=None,
                    help="timed rounds per variant and storage (default 60, quick 8)")
    ap.add_argument("--fanout-repeats", type=int, default=None,
                    help="fan-out runs per variant (default 15, quick 3)")
    args = ap.parse_args(argv)
    try:
        import deepagents
    except ImportError:
        print("deepagents is not installed in this environment: nothing to compare.\n"
              f"Install it with `{sys.executable} -m pip install deepagents` and run again.")
        return 0

    iterations = args.iterations or (8 if args.quick else 60)
    warmup = max(2, iterations // 10)
    repeats = args.fanout_repeats or (3 if args.quick else 15)
    build_iterations = 6 if args.quick else 30
    mem_repeats = 1 if args.quick else 3

    import langgraph.version as lgv

    print(f"python {sys.version.split()[0]}  langgraph {getattr(lgv, '__version__', '?')}  "
          f"deepagents {getattr(deepagents, '__version__', '?')}  cpus {os.cpu_count()}  "
          f"iterations {iterations} (+{warmup} warm-up)")
    print(f"start: {load_note()}")
    t_start = time.perf_counter()
    # untimed: what each deepagents variant really is (profile, middleware per agent)
    stacks = describe_deep("deep_min") + describe_deep("deep_default")

    cells = [Cell("none"), Cell("InMemorySaver"), Cell("sqlite")]
    with tempfile.TemporaryDirectory(prefix="subagents-vs-deep-") as tmpdir:
        for cell in cells:
            with _section(f"per-delegation, checkpointer={cell.storage}"):
                asyncio.run(run_cell(cell, Path(tmpdir), iterations, warmup))
    with _section("fan-out"):
        fan, fan_kinds = asyncio.run(run_fanout(repeats))
    with _section("build time"):
        build = run_build(build_iterations)
    with _section("import memory"):
        mem = run_import_memory(mem_repeats)

    print(f"\n{DEEP_DEFAULT_NOTE}\n{DEEP_MIN_NOTE}")
    print("per agent: create_agent calls in one create_deep_agent, and the middleware passed")
    for line in stacks:
        print(f"  {line}")
    print("bound tools (first model call of the root / of the child):")
    for v in VARIANTS:
        print(f"  {v}: {cells[0].bound_tools[v]}")

    print("\n== 1. Per delegation (scripted model, no latency, async) ==")
    print("parity (message kinds H/A/T, model calls per run; SQLite: checkpoint / write rows "
          "per thread):")
    for cell in cells:
        for line in cell.parity:
            print(f"  {cell.storage:13s} {line}")
    if not all(c.parity_ok for c in cells):
        print("  PARITY MISMATCH: the variants did not do the same work (see above)")
    else:
        print("  parity OK: same kinds and model calls everywhere, every ToolMessage the "
              "child's answer")
    rep = Report()
    report_delegation(rep, cells)

    above = {v: fan[v].median - CRITICAL_PATH for v in FAN_VARIANTS}
    fan_label = f"fan-out {FANOUT_CHILDREN} above critical path"
    rep.add(fan_label, "ms", fmt_ms, {v: above[v] for v in VARIANTS},
            pairs(lambda a, b: above_ratio(fan[a], fan[b], CRITICAL_PATH)))
    rep.add(f"{fan_label}, hand = hand Send", "ms", fmt_ms,
            {"ours": above["ours"], "hand": above["hand_send"]},
            {("ours", "hand"): above_ratio(fan["ours"], fan["hand_send"], CRITICAL_PATH)},
            target=False)
    rep.add("graph build", "ms", fmt_ms, {v: build[v].median for v in VARIANTS},
            pairs(lambda a, b: build[a].ratio_to(build[b])))
    # one `import deepagents` serves both deepagents variants: shown under deep_default
    col = {"ours": "ours", "hand": "hand", "deep_default": "deep"}
    for key, label, unit, fmt, target in (("rss", "import RSS delta", "MB", _mb, True),
                                          ("seconds", "import time", "ms", fmt_ms, False)):
        m = mem[key]
        rep.add(label, unit, fmt, {c: m[k].median for c, k in col.items()},
                pairs(lambda a, b, m=m: m[col[a]].ratio_to(m[col[b]]), tuple(col)),
                target=target, hand_only=True)
    rss = {c: mem["rss"][k].median for c, k in col.items()}
    rep.add("import RSS above hand's imports", "MB", _mb,
            {c: rss[c] - rss["hand"] for c in col}, {}, target=False)
    print("\n== Summary: medians, then ratios (verdict = vs hand / vs deep_default) ==")
    rep.print()
    print("(ratios with a target: paired, the median over rounds of the per-round ratio, every "
          "round running every variant back to back; of medians: the plain ratio of the two "
          "medians; ours/deep_min and deep_default/hand: paired, info. per extra delegation = "
          "(t[5 delegations] - t[1]) / 4, paired as (a5-a1)/(b5-b1) per round. fan-out: "
          f"{FANOUT_CHILDREN} task calls in one turn, {FANOUT_LATENCY * 1000:.0f} ms model "
          f"latency, no checkpointer, time minus the {CRITICAL_PATH * 1000:.0f} ms critical "
          "path, paired per round; hand gathers the children in one node, hand Send (info "
          "row) does one Send task per call as ours does. import: one `import deepagents` "
          "for both deepagents variants)")
    print("fan-out totals s: " + ", ".join(f"{v} {fan[v].median:.3f}" for v in FAN_VARIANTS)
          + f" ({fan_kinds})")
    print(f"import: median of {mem_repeats} fresh interpreters; modules "
          + ", ".join(f"{v} {int(mem['modules'][v].median)}" for v in IMPORTS)
          + f"; hand imports: `{IMPORTS['hand']}`")
    cpu = Report()
    report_delegation(cpu, cells, cpu=True)
    print("\nthe same per-delegation figures on process CPU time (info: less sensitive to "
          "other processes on the machine; ratios paired):")
    cpu.print()

    print(f"\n== Targets: ours <= {VS_HAND_TARGET:.2f}x hand-written and "
          f"<= {VS_DEEP_TARGET:.2f}x deepagents as users run it (deep_default); paired ==")
    for text, ok in rep.verdicts:
        print(f"{verdict(ok)}  {text}")
    missed = sum(not ok for _, ok in rep.verdicts)
    print(f"\nend: {load_note()}")
    print(f"{len(rep.verdicts) - missed}/{len(rep.verdicts)} targets met; "
          f"total runtime {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
