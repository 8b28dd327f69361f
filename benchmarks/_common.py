"""Small helpers shared by the benchmark scripts: statistics, interleaved timing, tables.

Benchmarks are scripts that print figures; they are not tests and exit 0 on a missed target.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Samples",
    "extra_ratio",
    "load_note",
    "fmt_ms",
    "fmt_ratio",
    "interleave",
    "interleave_async",
    "p90",
    "render_table",
    "verdict",
]


def p90(values: Sequence[float]) -> float:
    """90th percentile (nearest rank on the sorted values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(0.9 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Samples:
    """Wall times and CPU times (``time.process_time``, seconds) of one variant."""

    name: str
    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p90(self) -> float:
        return p90(self.values)

    def ratio_to(self, other: Samples, *, cpu: bool = False) -> float:
        """Paired ratio: the median over rounds of ``self[i] / other[i]``.

        ``interleave`` runs every variant once per round, back to back, so a round's two
        timings share the machine's state of that moment (frequency, steal time of a VM,
        another process); their ratio cancels that drift, where a ratio of two medians
        taken across the whole run does not.
        """
        mine, theirs = (self.cpu, other.cpu) if cpu else (self.values, other.values)
        ratios = [a / b for a, b in zip(mine, theirs, strict=True) if b > 0]
        return statistics.median(ratios) if ratios else float("nan")


def interleave(variants: dict[str, Callable[[], object]], *, iterations: int,
               warmup: int, collect: bool = False) -> dict[str, Samples]:
    """Time sync callables in ABAB... order after ``warmup`` untimed rounds.

    ``collect``: run ``gc.collect()`` (untimed) before every timed call, so no variant pays
    for the garbage of the one before it (worth it for long calls only).
    """
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    gc.collect()
    out = {name: Samples(name) for name in variants}
    for i in range(iterations):
        # alternate the order too (AB BA AB ...) so neither side always runs first
        names = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in names:
            if collect:
                gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            variants[name]()
            out[name].values.append(time.perf_counter() - t0)
            out[name].cpu.append(time.process_time() - c0)
    return out


async def interleave_async(variants: dict[str, Callable[[], Awaitable[object]]], *,
                           iterations: int, warmup: int,
                           collect: bool = False) -> dict[str, Samples]:
    """Time coroutine factories in ABAB... order after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for fn in variants.values():
            await fn()
    gc.collect()
    out = {name: Samples(name) for name in variants}
    for i in range(iterations):
        names = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in names:
            if collect:
                gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            await variants[name]()
            out[name].values.append(time.perf_counter() - t0)
            out[name].cpu.append(time.process_time() - c0)
    return out


def load_note() -> str:
    """The 1-minute load average against the CPU count (other processes skew timings)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "load n/a"
    cpus = os.cpu_count() or 1
    warn = "  (busy machine: other processes compete for the CPUs)" if load > 0.75 * cpus else ""
    return f"load {load:.2f} on {cpus} cpus{warn}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:5.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with right-aligned columns (the first left-aligned)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def extra_ratio(one: tuple[Samples, Samples], five: tuple[Samples, Samples], *,
                cpu: bool = False) -> float:
    """Paired ratio of the cost of extra work: the median over rounds of
    ``(a5[i] - a1[i]) / (b5[i] - b1[i])`` for ``one = (a1, b1)`` and ``five = (a5, b5)``.

    Rounds where the reference's difference is not positive (noise) are skipped.
    """
    (a1, b1), (a5, b5) = one, five
    pick = (lambda s: s.cpu) if cpu else (lambda s: s.values)
    ratios = [(x5 - x1) / (y5 - y1) for x1, y1, x5, y5
              in zip(pick(a1), pick(b1), pick(a5), pick(b5), strict=True) if y5 - y1 > 0]
    return statistics.median(ratios) if ratios else float("nan")
