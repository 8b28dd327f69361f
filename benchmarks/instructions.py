"""Delegation overhead in CPU instructions (valgrind), immune to a busy machine.

Run: ``.venv/bin/python benchmarks/instructions.py [--rounds N] [--base DIR]``

``benchmarks/delegation.py`` times delegations in seconds; on a shared 2-core VM its ratios
move by several percent between runs. This script counts the instructions one sync
delegation executes instead (``valgrind --tool=callgrind``, the same count for the same
program and inputs whatever else the machine does), for the same graphs as
``delegation.py`` scenario 1 (sync, in memory): this runtime's root with one child against
the hand-written LangGraph parent and child, both plain and traced (with the tracing config
this runtime's agents carry, the baseline ``delegation.py`` judges), with 1 and 5
delegations per run. The target (<= 1.10x) is judged against the traced pair; the plain
pair's ratio is printed beside it.

Each variant runs in its own process twice, with ``--rounds`` and with ``2 * --rounds``
timed invocations after the same warm-up; the difference divided by ``--rounds`` is the
instructions of one invocation, with start-up, imports and compilation cancelled out.
``--base DIR`` also measures the ``src/`` of another checkout (e.g. a ``git worktree`` of
the previous release) in the same run, so a change is judged against its baseline.

A report, not a test: it exits 0 even when a target is missed (printed as MISS).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIO_TARGET = 1.10
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
_VARIANTS = ("ours1", "hand1", "traced1", "ours5", "hand5", "traced5")


def workload(variant: str, rounds: int) -> None:
    """The measured process: warm up, then ``rounds`` sync invocations of one variant."""
    sys.path.insert(0, str(HERE))
    import _delegation_common as bench  # the child process only: sys.path set above
    from _delegation_runs import _inp

    from subagents.testing import ScriptedChatModel

    model = ScriptedChatModel(policy=bench.policy)
    graph = (bench.build_ours(model, None) if variant.startswith("ours")
             else bench.build_handwritten(model, None, is_async=False,
                                          traced=variant.startswith("traced")))
    n = int(variant[-1])
    for _ in range(3):
        graph.invoke(_inp(n))
    for _ in range(rounds):
        graph.invoke(_inp(n))


def count(src: Path, variant: str, rounds: int) -> int:
    """Instructions of one process running ``workload(variant, rounds)`` on ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, str(Path(__file__).resolve()), "--workload", variant,
           "--rounds", str(rounds)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True,
                          timeout=3600)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_invocation(src: Path, variant: str, rounds: int) -> float:
    """Instructions of one invocation: (count at 2 * rounds - count at rounds) / rounds."""
    return (count(src, variant, 2 * rounds) - count(src, variant, rounds)) / rounds


def measure(src: Path, rounds: int) -> dict[str, float]:
    """Per-invocation instructions of every variant on one ``src`` directory."""
    return {v: per_invocation(src, v, rounds) for v in _VARIANTS}


def report(label: str, got: dict[str, float]) -> list[str]:
    """Rows: one delegation and one extra delegation, ours/traced (judged) and ours/plain."""
    rows = []
    for name, n in (("1 delegation", "1"), ("per extra delegation", "5")):
        def ratio(base: str, n: str = n) -> float:
            if n == "1":
                return got["ours1"] / got[f"{base}1"]
            return (got["ours5"] - got["ours1"]) / (got[f"{base}5"] - got[f"{base}1"])
        judged, plain = ratio("traced"), ratio("hand")
        verdict = "pass" if judged <= RATIO_TARGET else "MISS"
        rows.append(f"{label:<8} {name:<22} ours {got['ours' + n]:>12,.0f}"
                    f"  ours/traced {judged:5.3f} (target <= {RATIO_TARGET:.2f}: {verdict})"
                    f"  ours/plain {plain:5.3f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20, help="invocations per difference")
    ap.add_argument("--base", type=Path, default=None,
                    help="another checkout whose src/ is measured too (the baseline)")
    ap.add_argument("--workload", choices=_VARIANTS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.workload:
        workload(args.workload, args.rounds)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured")
        return 0
    trees = [("this", HERE.parent / "src")]
    if args.base is not None:
        trees.insert(0, ("base", args.base.resolve() / "src"))
    print(f"instructions per sync invocation (valgrind callgrind), {args.rounds} rounds "
          "per difference, in memory")
    results = {label: measure(src, args.rounds) for label, src in trees}
    for label, got in results.items():
        print("\n".join(report(label, got)))
    if "base" in results:
        for v in _VARIANTS:
            if v.startswith("ours"):
                change = results["this"][v] / results["base"][v]
                print(f"this/base {v}: {change:5.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
