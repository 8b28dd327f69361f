"""The constants and the measured runs of ``vs_deepagents.py``: 1. per delegation (with its
parity lines), 2. fan-out, 3. graph build time, 4. import memory (fresh interpreters). The
policy and the graph builders live in ``_vs_deep_build.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from _common import Samples, interleave, interleave_async
from _vs_deep_build import BUILDERS, CHILD_PREFIX, make_model
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from subagents.checkpoints import async_sqlite_saver
from subagents.testing import ScriptedChatModel

VS_HAND_TARGET = 1.10
VS_DEEP_TARGET = 0.25
FANOUT_CHILDREN = 20
FANOUT_LATENCY = 0.05
CRITICAL_PATH = 3 * FANOUT_LATENCY  # root turn, the children (in parallel), root turn
VARIANTS = ("ours", "hand", "deep_default", "deep_min")
FAN_VARIANTS = (*VARIANTS, "hand_send")
# (numerator, denominator) of every ratio column; the first two carry a target
RATIOS = (("ours", "hand"), ("ours", "deep_default"), ("ours", "deep_min"),
          ("deep_default", "hand"))
TARGETS = {("ours", "hand"): VS_HAND_TARGET, ("ours", "deep_default"): VS_DEEP_TARGET}

# --------------------------------------------------------------------------- 1. per delegation


def _inp(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


def _kinds(state: dict[str, Any]) -> str:
    return "".join(type(m).__name__[0] for m in state["messages"])


def _db_rows(db: Path, config: dict[str, Any]) -> str:
    """SQLite checkpoints / writes rows of one thread (all namespaces)."""
    thread = config["configurable"]["thread_id"]
    with sqlite3.connect(db) as conn:
        cps = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id=?",
                           (thread,)).fetchone()[0]
        writes = conn.execute("SELECT COUNT(*) FROM writes WHERE thread_id=?",
                              (thread,)).fetchone()[0]
    return f" cp/writes={cps}/{writes}"


def _answered(state: dict[str, Any]) -> int:
    """ToolMessages carrying the child's answer (a schema mismatch yields an error message
    of the same kind, so kinds alone would not show it)."""
    return sum(isinstance(m, ToolMessage) and f"answer to {CHILD_PREFIX}" in str(m.content)
               for m in state["messages"])


def _bound(model: ScriptedChatModel) -> str:
    """Tool names bound on the root's first model call and on the child's first call."""
    calls = model.calls
    child = next((c for c in calls if str(c.messages[-1].content).startswith(CHILD_PREFIX)), None)
    return f"root={calls[0].tools} child={child.tools if child else '?'}"


class Cell:
    """One storage: the timed variants (each implementation x 1 and 5 delegations)."""

    def __init__(self, storage: str) -> None:
        self.storage = storage
        self.samples: dict[str, Samples] = {}
        self.parity: list[str] = []
        self.parity_ok = True
        self.bound_tools: dict[str, str] = {}


async def run_cell(cell: Cell, tmp: Path, iterations: int, warmup: int) -> None:
    models = {v: make_model(v) for v in VARIANTS}
    async with AsyncExitStack() as stack:
        savers: dict[str, BaseCheckpointSaver[Any] | None] = {}
        dbs: dict[str, Path] = {}
        for v in VARIANTS:
            if cell.storage == "sqlite":
                dbs[v] = tmp / f"{v}-{uuid.uuid4().hex[:6]}.db"
                savers[v] = await stack.enter_async_context(async_sqlite_saver(dbs[v]))
            elif cell.storage == "InMemorySaver":
                savers[v] = InMemorySaver()
            else:
                savers[v] = None
        graphs = {v: BUILDERS[v](models[v], savers[v]) for v in VARIANTS}
        persistent = cell.storage != "none"

        def cfg() -> dict[str, Any] | None:
            return {"configurable": {"thread_id": uuid.uuid4().hex}} if persistent else None

        for n in (1, 5):  # parity: same message kinds and model calls on every side
            parts, seen = [], set()
            for v in VARIANTS:
                before, config = len(models[v].calls), cfg()
                state = await graphs[v].ainvoke(_inp(f"seq:{n}"), config)
                rows = _db_rows(dbs[v], config) if v in dbs and config else ""
                kinds, calls, answered = _kinds(state), len(models[v].calls) - before, \
                    _answered(state)
                seen.add((kinds, calls, answered == n))
                miss = "" if answered == n else f" ANSWERED {answered}/{n}"
                parts.append(f"{v}: {kinds} calls={calls}{rows}{miss}")
            cell.parity_ok &= len(seen) == 1
            cell.parity.append(f"n={n}  " + " | ".join(parts))
        cell.bound_tools = {v: _bound(models[v]) for v in VARIANTS}

        def variant(v: str, n: int) -> Callable[[], Awaitable[Any]]:
            graph, text = graphs[v], f"seq:{n}"
            return lambda: graph.ainvoke(_inp(text), cfg())

        cell.samples = await interleave_async(
            {f"{v}{n}": variant(v, n) for n in (1, 5) for v in VARIANTS},
            iterations=iterations, warmup=warmup)


# --------------------------------------------------------------------------- 2. fan-out


async def run_fanout(repeats: int) -> tuple[dict[str, Samples], str]:
    models = {v: make_model(v, latency=FANOUT_LATENCY) for v in FAN_VARIANTS}
    graphs = {v: BUILDERS[v](models[v], None) for v in FAN_VARIANTS}
    inp = _inp(f"fan:{FANOUT_CHILDREN}")
    kinds: dict[str, str] = {}

    def runner(v: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            before = len(models[v].calls)
            state = await graphs[v].ainvoke(inp)
            msgs = state["messages"]
            assert _answered(state) == FANOUT_CHILDREN, v
            assert isinstance(msgs[-1], AIMessage) and not msgs[-1].tool_calls, v
            kinds[v] = f"{len(msgs)} messages/{len(models[v].calls) - before} calls"
        return run

    samples = await interleave_async({v: runner(v) for v in FAN_VARIANTS}, iterations=repeats,
                                     warmup=1, collect=True)
    return samples, ", ".join(f"{v}: {k}" for v, k in kinds.items())


def above_ratio(a: Samples, b: Samples, floor: float) -> float:
    """Paired ratio of the time above ``floor``: median over rounds of
    ``(a[i] - floor) / (b[i] - floor)``, skipping rounds where ``b`` is not above it."""
    ratios = [(x - floor) / (y - floor) for x, y in zip(a.values, b.values, strict=True)
              if y - floor > 0]
    return statistics.median(ratios) if ratios else float("nan")


# --------------------------------------------------------------------------- 3. build time


def run_build(iterations: int) -> dict[str, Samples]:
    models = {v: make_model(v) for v in VARIANTS}
    return interleave({v: (lambda v=v: BUILDERS[v](models[v], None)) for v in VARIANTS},
                      iterations=iterations, warmup=2, collect=True)


# --------------------------------------------------------------------------- 4. import memory

IMPORTS = {
    "ours": "import subagents",
    "hand": "import langgraph.graph, langgraph.graph.message, langchain_core.messages",
    "deep": "import deepagents",
}
_PROBE = """
import json, resource, sys, time
def rss():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
r0 = rss(); t0 = time.perf_counter()
exec(sys.argv[1])
t1 = time.perf_counter(); r1 = rss()
print(json.dumps({"rss": r1 - r0, "seconds": t1 - t0, "modules": len(sys.modules)}))
"""


def run_import_memory(repeats: int) -> dict[str, dict[str, Samples]]:
    """RSS delta, time and module count of each import, a fresh interpreter each time,
    interleaved (so per-round pairs exist as for the timings)."""
    keys = ("rss", "seconds", "modules")
    out = {k: {v: Samples(v) for v in IMPORTS} for k in keys}
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    names = tuple(IMPORTS)
    for i in range(repeats + 1):  # the first round warms the OS file cache, not counted
        for v in names if i % 2 == 0 else tuple(reversed(names)):
            res = subprocess.run([sys.executable, "-c", _PROBE, IMPORTS[v]], check=True,
                                 capture_output=True, text=True, env=env)
            if i:
                row = json.loads(res.stdout.strip().splitlines()[-1])
                for k in keys:
                    out[k][v].values.append(float(row[k]))
    return out
