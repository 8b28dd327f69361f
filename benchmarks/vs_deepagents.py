"""``subagents`` against deepagents' ``task`` tool and a hand-written LangGraph pair.

Run: ``.venv/bin/python benchmarks/vs_deepagents.py [--quick]`` (needs ``pip install
deepagents`` in the same venv; without it the script says so and exits 0).

The same stateless ``ScriptedChatModel`` policy drives three implementations of "a root model
delegates to a child sub-agent through a tool call":

* **ours**: ``compile_agent(Agent(root, subagents=[child]))``;
* **hand**: a hand-written parent ``StateGraph`` (model node + a node that invokes a compiled
  child ``StateGraph`` with one ``HumanMessage`` and returns one ``ToolMessage``);
* **deep**: ``deepagents.create_deep_agent(subagents=[{"name": "child", ...}])`` and its
  ``task`` tool, configured as minimally as its public API allows (see the printed note).

Measured (medians; variants interleaved ABC CBA ... after a warm-up):

1. per-delegation time: a run with 1 delegation and the cost of one extra delegation
   ((t5 - t1) / 4), with no checkpointer, ``InMemorySaver`` and SQLite
   (``subagents.checkpoints.async_sqlite_saver``: WAL + synchronous=NORMAL) for all three;
2. fan-out: 20 task calls in one model turn, 50 ms model latency: time above the critical
   path (3 model calls);
3. graph build time (constructing the agent / compiling the graphs);
4. memory after import: RSS delta of importing each library, each in a fresh subprocess.

A report, not a test: it exits 0 even when a target is missed (printed as MISS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Samples,
    fmt_ms,
    fmt_ratio,
    interleave,
    interleave_async,
    load_note,
    render_table,
    verdict,
)
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from subagents import Agent, compile_agent
from subagents.checkpoints import async_sqlite_saver
from subagents.nodes.schemas import task_spec
from subagents.testing import ScriptedChatModel, call

VS_HAND_TARGET = 1.10
VS_DEEP_TARGET = 0.25
FANOUT_CHILDREN = 20
FANOUT_LATENCY = 0.05
CRITICAL_PATH = 3 * FANOUT_LATENCY  # root turn, the children (in parallel), root turn
CHILD_PREFIX = "subtask"
DEEP_ROOT = "deep_root"
VARIANTS = ("ours", "hand", "deep")

# --------------------------------------------------------------------------- the shared policy


def policy(messages: list[BaseMessage], agent: str | None = None) -> AIMessage:
    """One stateless script for all three implementations.

    The child is recognised by its task text (``subtask ...``), whichever runtime called; the
    root's task says what to do (``seq:N``: N delegations one per turn, ``fan:N``: N in one
    turn). Only the tool-call *schema* differs: deepagents' ``task`` takes
    ``description``/``subagent_type``, ours (and the hand-written pair's) ``agent``/
    ``objective``. Its root is recognised by ``lc_agent_name`` (deepagents sets it from
    ``name=``), falling back to its always-present system message.
    """
    task = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    text = str(task.content)
    if text.startswith(CHILD_PREFIX):
        return AIMessage(content=f"answer to {text}")
    deep = agent == DEEP_ROOT or (agent is None and isinstance(messages[0], SystemMessage))

    def delegate(i: int) -> Any:
        if deep:
            return call("task", subagent_type="child", description=f"{CHILD_PREFIX} {i}")
        return call("task", agent="child", objective=f"{CHILD_PREFIX} {i}")

    kind, _, count = text.partition(":")
    n, done = int(count), sum(isinstance(m, ToolMessage) for m in messages)
    if kind == "seq" and done < n:
        return AIMessage(content="", tool_calls=[delegate(done)])
    if kind == "fan" and done == 0:
        return AIMessage(content="", tool_calls=[delegate(i) for i in range(n)])
    return AIMessage(content=f"root answer from {done} results")


CHILD_SPEC = Agent(name="child", description="Answers one subtask.")
TASK_TOOL = task_spec([CHILD_SPEC], with_context=True)

# --------------------------------------------------------------------------- the three builders


def build_ours(model: ScriptedChatModel, saver: BaseCheckpointSaver[Any] | None) -> Any:
    return compile_agent(Agent(name="root", model=model, subagents=[CHILD_SPEC]),
                         checkpointer=saver)


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _route(state: State) -> str:
    last = state["messages"][-1]
    return "delegate" if isinstance(last, AIMessage) and last.tool_calls else END


def build_hand(model: ScriptedChatModel, saver: BaseCheckpointSaver[Any] | None) -> Any:
    """Parent: model (``task`` bound) -> delegate (child graphs, ``asyncio.gather``) -> model.

    The child (START -> model -> END) is compiled without a checkpointer, so like the other
    two it inherits the parent's saver under the delegate node's namespace.
    """
    bound = model.bind_tools([TASK_TOOL])

    async def child_model(state: State) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    child_builder = StateGraph(State)
    child_builder.add_node("model", child_model)
    child_builder.add_edge(START, "model")
    child_builder.add_edge("model", END)
    child = child_builder.compile(name="child")

    async def root_model(state: State) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke(state["messages"])]}

    async def one(tc: Any) -> ToolMessage:
        res = await child.ainvoke({"messages": [HumanMessage(tc["args"]["objective"])]})
        # the same JSON shape (and size) as this runtime's delegation result
        payload = {"status": "completed", "agent": "child",
                   "result": res["messages"][-1].text, "error": None}
        return ToolMessage(content=json.dumps(payload), tool_call_id=tc["id"], name=tc["name"])

    async def delegate(state: State) -> dict[str, Any]:
        calls = state["messages"][-1].tool_calls
        return {"messages": list(await asyncio.gather(*(one(tc) for tc in calls)))}

    builder = StateGraph(State)
    builder.add_node("model", root_model)
    builder.add_node("delegate", delegate)
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", _route, ["delegate", END])
    builder.add_edge("delegate", "model")
    return builder.compile(checkpointer=saver, name="root")


DEEP_EXCLUDED = ("SummarizationMiddleware", "PatchToolCallsMiddleware",
                 "AnthropicPromptCachingMiddleware")
DEEP_NOTE = (
    "deepagents configuration: harness profile for the scripted model's provider excluding "
    f"{', '.join(DEEP_EXCLUDED)} and disabling the general-purpose sub-agent; "
    "FilesystemMiddleware(tools=['read_file']) on root and child (the least it accepts).\n"
    "What remains (not removable through its API): FilesystemMiddleware (required: `read_file` "
    "tool, `files` state channel), SubAgentMiddleware (required: the `task` tool, state "
    "copied down / merged back), _ParentNotifierMiddleware (private; an after_agent node), "
    "UnsupportedContentMiddleware (always appended), DeltaChannel `messages`, "
    "recursion_limit 9999."
)
_PROFILE_REGISTERED = False


def _register_deep_profile(model: ScriptedChatModel) -> None:
    global _PROFILE_REGISTERED
    if _PROFILE_REGISTERED:
        return
    from deepagents import GeneralPurposeSubagentProfile, HarnessProfile, register_harness_profile
    from deepagents._models import get_model_provider

    provider = get_model_provider(model) or "scriptedchatmodel"
    register_harness_profile(provider, HarnessProfile(
        excluded_middleware=frozenset(DEEP_EXCLUDED),
        general_purpose_subagent=GeneralPurposeSubagentProfile(enabled=False)))
    _PROFILE_REGISTERED = True


def build_deep(model: ScriptedChatModel, saver: BaseCheckpointSaver[Any] | None) -> Any:
    from deepagents import FilesystemMiddleware, create_deep_agent
    from deepagents.backends import StateBackend

    _register_deep_profile(model)
    backend = StateBackend()
    child = {"name": "child", "description": "Answers one subtask.", "system_prompt": "",
             "tools": [],
             "middleware": [FilesystemMiddleware(backend=backend, tools=["read_file"])]}
    return create_deep_agent(
        model=model, name=DEEP_ROOT, backend=backend, subagents=[child],  # type: ignore[list-item]
        middleware=[FilesystemMiddleware(backend=backend, tools=["read_file"])],
        checkpointer=saver)


BUILDERS: dict[str, Callable[[ScriptedChatModel, Any], Any]] = {
    "ours": build_ours, "hand": build_hand, "deep": build_deep}

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


class Cell:
    """One storage: the six timed variants (3 implementations x 1 and 5 delegations)."""

    def __init__(self, storage: str) -> None:
        self.storage = storage
        self.samples: dict[str, Samples] = {}
        self.parity: list[str] = []
        self.bound_tools: dict[str, list[str]] = {}


async def run_cell(cell: Cell, tmp: Path, iterations: int, warmup: int) -> None:
    models = {v: ScriptedChatModel(policy=policy) for v in VARIANTS}
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

        for n in (1, 5):  # parity: same message kinds and model calls on all three sides
            parts = []
            for v in VARIANTS:
                before, config = len(models[v].calls), cfg()
                state = await graphs[v].ainvoke(_inp(f"seq:{n}"), config)
                rows = _db_rows(dbs[v], config) if v in dbs and config else ""
                parts.append(f"{v}: {_kinds(state)} calls={len(models[v].calls) - before}{rows}")
            cell.parity.append(f"n={n}  " + " | ".join(parts))
        cell.bound_tools = {v: models[v].calls[0].tools for v in VARIANTS}

        def variant(v: str, n: int) -> Callable[[], Awaitable[Any]]:
            graph, text = graphs[v], f"seq:{n}"
            return lambda: graph.ainvoke(_inp(text), cfg())

        cell.samples = await interleave_async(
            {f"{v}{n}": variant(v, n) for n in (1, 5) for v in VARIANTS},
            iterations=iterations, warmup=warmup)


# --------------------------------------------------------------------------- 2. fan-out


async def run_fanout(repeats: int) -> tuple[dict[str, Samples], str]:
    models = {v: ScriptedChatModel(policy=policy, latency=FANOUT_LATENCY) for v in VARIANTS}
    graphs = {v: BUILDERS[v](models[v], None) for v in VARIANTS}
    inp = _inp(f"fan:{FANOUT_CHILDREN}")
    kinds: dict[str, str] = {}

    def runner(v: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            state = await graphs[v].ainvoke(inp)
            msgs = state["messages"]
            assert sum(isinstance(m, ToolMessage) for m in msgs) == FANOUT_CHILDREN, v
            assert isinstance(msgs[-1], AIMessage) and not msgs[-1].tool_calls, v
            kinds[v] = f"{len(msgs)} messages"
        return run

    samples = await interleave_async({v: runner(v) for v in VARIANTS}, iterations=repeats,
                                     warmup=1, collect=True)
    return samples, ", ".join(f"{v}: {k}" for v, k in kinds.items())


# --------------------------------------------------------------------------- 3. build time


def run_build(iterations: int) -> dict[str, Samples]:
    model = ScriptedChatModel(policy=policy)
    return interleave({v: (lambda v=v: BUILDERS[v](model, None)) for v in VARIANTS},
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


def run_import_memory(repeats: int) -> dict[str, dict[str, float]]:
    """RSS delta and time of each import, fresh interpreter each time, interleaved."""
    raw: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for i in range(repeats + 1):  # the first round warms the OS file cache, not counted
        order = VARIANTS if i % 2 == 0 else tuple(reversed(VARIANTS))
        for v in order:
            out = subprocess.run([sys.executable, "-c", _PROBE, IMPORTS[v]], check=True,
                                 capture_output=True, text=True, env=env)
            if i:
                raw[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {v: {k: statistics.median(r[k] for r in rows) for k in ("rss", "seconds", "modules")}
            for v, rows in raw.items()}


# --------------------------------------------------------------------------- report


class Report:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.verdicts: list[tuple[str, bool]] = []

    def add(self, label: str, ours: float, hand: float, deep: float, unit: str,
            fmt: Callable[[float], str], *, target: bool = True) -> None:
        r_hand = ours / hand if hand > 0 else float("nan")
        r_deep = ours / deep if deep > 0 else float("nan")
        d_hand = deep / hand if hand > 0 else float("nan")
        ok_hand, ok_deep = r_hand <= VS_HAND_TARGET, r_deep <= VS_DEEP_TARGET
        marks = f"{verdict(ok_hand)}/{verdict(ok_deep)}" if target else "info"
        self.rows.append([label, unit, fmt(ours), fmt(hand), fmt(deep), fmt_ratio(r_hand),
                          fmt_ratio(r_deep), fmt_ratio(d_hand), marks])
        if target:
            self.verdicts.append(
                (f"{label}: ours/hand {r_hand:.2f}x <= {VS_HAND_TARGET:.2f}x", ok_hand))
            self.verdicts.append(
                (f"{label}: ours/deep {r_deep:.2f}x <= {VS_DEEP_TARGET:.2f}x", ok_deep))

    def print(self) -> None:
        print(render_table(["measure", "unit", "ours", "hand", "deep", "ours/hand",
                            "ours/deep", "deep/hand", "verdict"], self.rows))


def _mb(x: float) -> str:
    return f"{x / 2**20:8.1f}"


@contextmanager
def _section(title: str) -> Iterator[None]:
    t0 = time.perf_counter()
    print(f"... {title}", file=sys.stderr, flush=True)
    yield
    print(f"    done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


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

    print(f"\n{DEEP_NOTE}")
    print("bound tools on the root's first model call: "
          + ", ".join(f"{v}={cells[0].bound_tools[v]}" for v in VARIANTS))

    print("\n== 1. Per delegation (scripted model, no latency, async) ==")
    print("parity (message kinds H/A/T, model calls per run; SQLite: checkpoint / write rows "
          "per thread):")
    for cell in cells:
        for line in cell.parity:
            print(f"  {cell.storage:13s} {line}")
    rep = Report()
    for cell in cells:
        s = {k: v.median for k, v in cell.samples.items()}
        extra = {v: (s[f"{v}5"] - s[f"{v}1"]) / 4 for v in VARIANTS}
        rep.add(f"1-delegation run, cp={cell.storage}", s["ours1"], s["hand1"], s["deep1"],
                "ms", fmt_ms)
        rep.add(f"per extra delegation, cp={cell.storage}", extra["ours"], extra["hand"],
                extra["deep"], "ms", fmt_ms)

    fan_above = {v: fan[v].median - CRITICAL_PATH for v in VARIANTS}
    rep.add(f"fan-out {FANOUT_CHILDREN} above critical path", fan_above["ours"],
            fan_above["hand"], fan_above["deep"], "ms", fmt_ms)
    rep.add("graph build", build["ours"].median, build["hand"].median, build["deep"].median,
            "ms", fmt_ms)
    rep.add("import RSS delta", mem["ours"]["rss"], mem["hand"]["rss"], mem["deep"]["rss"],
            "MB", _mb)
    rep.add("import time", mem["ours"]["seconds"], mem["hand"]["seconds"],
            mem["deep"]["seconds"], "ms", fmt_ms, target=False)
    rep.add("import RSS above hand's imports", mem["ours"]["rss"] - mem["hand"]["rss"], 0.0,
            mem["deep"]["rss"] - mem["hand"]["rss"], "MB", _mb, target=False)
    print("\n== Summary (medians; verdict = vs hand-written / vs deepagents) ==")
    rep.print()
    cpu = Report()
    for cell in cells:
        c = {k: v.cpu_median for k, v in cell.samples.items()}
        cpu.add(f"1-delegation run, cp={cell.storage}", c["ours1"], c["hand1"], c["deep1"],
                "ms", fmt_ms, target=False)
        cpu.add(f"per extra delegation, cp={cell.storage}", *(
            (c[f"{v}5"] - c[f"{v}1"]) / 4 for v in VARIANTS), "ms", fmt_ms, target=False)
    print("\nthe same per-delegation medians on process CPU time (info: less sensitive to "
          "other processes on the machine):")
    cpu.print()
    print(f"(per extra delegation = (t[5 delegations] - t[1]) / 4; fan-out: {FANOUT_CHILDREN} "
          f"task calls in one turn, {FANOUT_LATENCY * 1000:.0f} ms model latency, no "
          f"checkpointer, median total minus the {CRITICAL_PATH * 1000:.0f} ms critical path; "
          f"fan-out totals s: " + ", ".join(f"{v} {fan[v].median:.3f}" for v in VARIANTS)
          + f" ({fan_kinds}); import: median of {mem_repeats} fresh interpreters, modules "
          + ", ".join(f"{v} {int(mem[v]['modules'])}" for v in VARIANTS)
          + f"; hand imports: `{IMPORTS['hand']}`)")

    print(f"\n== Targets: ours <= {VS_HAND_TARGET:.2f}x hand-written and "
          f"<= {VS_DEEP_TARGET:.2f}x deepagents ==")
    for text, ok in rep.verdicts:
        print(f"{verdict(ok)}  {text}")
    missed = sum(not ok for _, ok in rep.verdicts)
    print(f"\nend: {load_note()}")
    print(f"{len(rep.verdicts) - missed}/{len(rep.verdicts)} targets met; "
          f"total runtime {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
