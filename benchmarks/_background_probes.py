"""The memory probes (section 3) and the cProfile (``--profile``) of ``background.py``."""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import json
import pstats
import subprocess
import sys
import time
import tracemalloc

from _background_common import Variant, make_variants

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


def measure_memory(n: int, script: str) -> dict[str, dict[int, dict[str, float]]]:
    """``memory_probe`` of 0 and ``n`` children, each in a fresh ``script --memory-probe``."""
    out: dict[str, dict[int, dict[str, float]]] = {"ours": {}, "gather": {}}
    for count in (0, n):
        for variant in ("ours", "gather"):
            proc = subprocess.run(
                [sys.executable, script, "--memory-probe", variant, str(count)],
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
