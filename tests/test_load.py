"""Proof under load: many concurrent two-level runs, on a LangGraph server and on one SQLite file.

1. ``test_server_load``: a ``langgraph dev`` server (loopback, scripted demo model) runs
   ``SERVER_RUNS`` runs of the ``research`` team at once (``SERVER_CONCURRENCY`` in flight),
   each on its own thread, input ``"a, b"``: two background researchers awaited together, then
   the critic. Every run must succeed and every thread's state must be complete.
2. ``test_sqlite_one_file_many_runs``: in process, ``SQLITE_RUNS`` root runs of the same team
   (input ``"a"``: one background researcher + ``agent_await``, then the critic, a sync
   delegation) on ONE SQLite file, through one saver or several connections to that file (WAL +
   ``busy_timeout``). No run may raise (no "database is locked" reaches a caller) and no write
   may be lost (every thread, and each child's namespace in it, has its checkpoints).

The functions here are plain async code, also run by ``benchmarks/load.py``. Every request
loop is bounded: a fixed number of runs, a semaphore, an HTTP timeout per request and an
overall ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import aiosqlite
import httpx
import pytest
from langchain_core.messages import BaseMessage, messages_to_dict
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph_sdk import get_client

from _server import (
    OFFLINE_ENV,
    DevServer,
    _langgraph_cli,
    free_port,
    listens_on,
    relocated_config,
)
from subagents.checkpoints.sqlite import async_sqlite_saver
from subagents.graphs.compile import compile_agent
from subagents.spec import Agent
from subagents.testing.demo import research_policy
from subagents.testing.scripted import ScriptedChatModel

GRAPH = "research"
DEMO_MODEL = "python:subagents.testing.demo:research_model"
SERVER_RUNS = 200
SERVER_CONCURRENCY = 50
SERVER_JOBS_PER_WORKER: int | None = SERVER_CONCURRENCY
"""``langgraph dev --n-jobs-per-worker``: runs the in-memory runtime executes at once (None:
its default, 10). As many as the runs in flight, so latency measures execution, not queueing:
on 2 CPUs shared with other jobs, 200 runs took 19-38 s with 10 jobs (p95 5-12 s) and
21-26 s with 50 (p95 6-7 s); ``benchmarks/load.py --jobs 10,50``."""
SERVER_TOPICS = "a, b"
SERVER_TIMEOUT = 150.0
SQLITE_RUNS = 1000
SQLITE_CONCURRENCY = 100
SQLITE_LATENCY = 0.01
SQLITE_TOPICS = "a"
SQLITE_TIMEOUT = 150.0
"""A hang bound, not a target: 1,000 runs take 20-25 s of CPU (about 55-75 s on 2 CPUs shared
with other jobs)."""
REQUEST_TIMEOUT = 60.0


# ----------------------------------------------------------------------------- results


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank on the sorted values; NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class LoadResult:
    """Outcome of one load scenario.

    Attributes:
        name: scenario label.
        runs: runs started.
        seconds: wall time of the whole batch.
        latencies: seconds per successful run (submission to final state).
        problems: one line per failed run or incomplete thread (empty: all good).
        settings: the knobs used (concurrency, connections, ...).
    """

    name: str
    runs: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = float("nan")
    """CPU time of the process doing the work (this one, or the server) during the batch."""

    @property
    def failed(self) -> int:
        return len({p.split(":", 1)[0] for p in self.problems})

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.seconds if self.seconds else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)

    def summary(self) -> dict[str, Any]:
        """Figures for printing and for the JSON report."""
        return {"name": self.name, "runs": self.runs, "failed": self.failed,
                "seconds": round(self.seconds, 3),
                "runs_per_second": round(self.runs_per_second, 2),
                "p50_s": round(self.p50, 3), "p95_s": round(self.p95, 3),
                "max_s": round(max(self.latencies, default=float("nan")), 3),
                "cpu_s": round(self.cpu_seconds, 2),
                "settings": self.settings, "problems": self.problems[:20]}

    def line(self) -> str:
        return (f"{self.name}: {self.runs} runs in {self.seconds:.1f} s = "
                f"{self.runs_per_second:.1f} runs/s, p50 {self.p50:.2f} s, "
                f"p95 {self.p95:.2f} s, cpu {self.cpu_seconds:.1f} s, failed {self.failed}")


def write_report(result: LoadResult, path: Path) -> None:
    """Write ``result.summary()`` as JSON (for CI artifacts) and print its line."""
    path.write_text(json.dumps(result.summary(), indent=2))
    print(result.line())


# --------------------------------------------------------------- what a complete run looks like


def research_team() -> Agent:
    """The ``research`` team spec (``subagents.graphs.research.build_team``).

    Importing ``subagents.graphs.research`` compiles its module-level ``graph``, which resolves
    the default model: with ``SUBAGENTS_MODEL`` unset that starts the embedded llama.cpp server
    (about 13 s and a 1 GB process; see ``test_research_import_starts_no_model_server``). So
    the module is imported with ``SUBAGENTS_MODEL`` pointing at the scripted demo model.
    """
    with mock.patch.dict(os.environ, {"SUBAGENTS_MODEL": DEMO_MODEL}):
        from subagents.graphs.research import build_team
    return build_team()


def _as_dicts(messages: Sequence[BaseMessage | dict[str, Any]]) -> list[dict[str, Any]]:
    """LangChain messages or server JSON -> ``{"type", "name", "content"}`` dicts."""
    out = []
    for m in messages:
        if isinstance(m, BaseMessage):
            m = messages_to_dict([m])[0]["data"]
        out.append({"type": m.get("type"), "name": m.get("name"), "content": m.get("content")})
    return out


def research_problems(messages: Sequence[BaseMessage | dict[str, Any]], topics: str) -> list[str]:
    """Why a ``research`` lead's final messages are not a complete run ([] when they are).

    Complete: one ``task`` ToolMessage per topic (the background start), one ``agent_await``
    whose results are all ``completed`` researchers, one ``task`` for the critic (completed),
    and a final AI message ``report: ...``: ``n + 2`` ToolMessages in all.
    """
    n = len([t for t in topics.split(",") if t.strip()])
    msgs = _as_dicts(messages)
    problems = []
    if not msgs or msgs[-1]["type"] != "ai" or not str(msgs[-1]["content"]).startswith("report:"):
        last = msgs[-1] if msgs else None
        problems.append(f"final message is not 'report: ...': {str(last)[:200]}")
    tools = [m for m in msgs if m["type"] == "tool"]
    names = [m["name"] for m in tools]
    if len(tools) != n + 2 or names.count("task") != n + 1 or names.count("agent_await") != 1:
        problems.append(f"expected {n + 2} tool messages ({n + 1} task, 1 agent_await), "
                        f"got {names}")
    for m in tools:
        try:
            payload = json.loads(str(m["content"]))
        except ValueError:
            problems.append(f"{m['name']} returned non-JSON: {str(m['content'])[:200]}")
            continue
        if m["name"] == "agent_await":
            statuses = [r.get("status") for r in payload.get("results", [])]
            if statuses != ["completed"] * n:
                problems.append(f"agent_await results {statuses}: {str(payload)[:300]}")
        elif payload.get("status") not in ("running", "completed"):
            problems.append(f"task returned {str(payload)[:300]}")
    return problems


# ----------------------------------------------------------------------- the server scenario


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its threads (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(workdir: Path, *, jobs_per_worker: int | None = SERVER_JOBS_PER_WORKER,
                 extra_env: dict[str, str] | None = None,
                 startup_timeout: float = 60.0) -> DevServer:
    """Start ``langgraph dev`` on a free loopback port with the scripted research model.

    Like ``_server.start_dev_server`` (same offline variables, same relocated config, same
    port check), plus ``--n-jobs-per-worker`` (None: the server's default, 10).
    """
    config = relocated_config(Path(__file__).resolve().parents[1] / "langgraph.json", workdir)
    env = {**os.environ, **OFFLINE_ENV,
           "SUBAGENTS_MODEL": DEMO_MODEL,
           "SUBAGENTS_ROOT": str(workdir), **(extra_env or {})}
    port = free_port()
    cmd = [_langgraph_cli(), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
           "--port", str(port), "--config", str(config)]
    if jobs_per_worker is not None:
        cmd += ["--n-jobs-per-worker", str(jobs_per_worker)]
    log_path = workdir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    server = DevServer(f"http://127.0.0.1:{port}", port, proc, log_path, workdir, log)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ok = httpx.get(f"{server.url}/ok", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok and listens_on(server.log(), port):
            return server
        if ok:
            break  # someone else answers on our port: the server fell back to another one
        with suppress(subprocess.TimeoutExpired):  # until the next check, or the exit
            proc.wait(timeout=0.2)
    server.stop()
    msg = f"langgraph dev did not start on port {port}; log tail:\n{server.log()[-3000:]}"
    raise RuntimeError(msg)


async def server_load(url: str, *, runs: int = SERVER_RUNS,
                      concurrency: int = SERVER_CONCURRENCY, topics: str = SERVER_TOPICS,
                      timeout: float = SERVER_TIMEOUT, pid: int | None = None) -> LoadResult:
    """Run ``runs`` research runs through ``langgraph_sdk``, each on a new thread.

    ``pid``: the server's process, whose CPU time is recorded.

    Per run: ``threads.create``, ``runs.create`` + ``runs.join`` (the latency), then checks:
    the run's status is ``success`` and the thread's state is complete (``research_problems``).
    """
    result = LoadResult(f"server {GRAPH} x{runs}", runs,
                        settings={"concurrency": concurrency, "topics": topics})
    client = get_client(url=url, timeout=REQUEST_TIMEOUT)
    sem = asyncio.Semaphore(concurrency)
    payload: dict[str, Any] = {"messages": [{"role": "user", "content": topics}]}

    async def one(i: int) -> None:
        async with sem:
            try:
                thread = await client.threads.create()
                tid = thread["thread_id"]
                t0 = time.perf_counter()
                run = await client.runs.create(tid, GRAPH, input=payload)
                await client.runs.join(tid, run["run_id"])
                latency = time.perf_counter() - t0
                status = (await client.runs.get(tid, run["run_id"]))["status"]
                state = await client.threads.get_state(tid)
            except Exception as exc:
                result.problems.append(f"run {i}: {type(exc).__name__}: {exc}"[:400])
                return
            found = [] if status == "success" else [f"status {status}"]
            values = state["values"]
            messages = values.get("messages", []) if isinstance(values, dict) else []
            found += research_problems(messages, topics)
            if state.get("next"):
                found.append(f"thread not finished, next={state['next']}")
            result.problems.extend(f"run {i}: {p}" for p in found)
            if not found:
                result.latencies.append(latency)

    t0, c0 = time.perf_counter(), process_cpu(pid) if pid else float("nan")
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one(i) for i in range(runs)))
    except TimeoutError:
        done = len(result.latencies) + result.failed
        result.problems.append(f"overall: timeout after {timeout} s with {done}/{runs} done")
    finally:
        result.seconds = time.perf_counter() - t0
        result.cpu_seconds = (process_cpu(pid) if pid else float("nan")) - c0
        await client.http.client.aclose()
    return result


@pytest.fixture
def load_server(tmp_path: Path) -> Iterator[DevServer]:
    workdir = tmp_path / "langgraph-dev"
    workdir.mkdir()
    server = start_server(workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.load
async def test_server_load(load_server: DevServer, tmp_path: Path) -> None:
    result = await server_load(load_server.url, pid=load_server.process.pid)
    result.settings["jobs_per_worker"] = SERVER_JOBS_PER_WORKER
    write_report(result, tmp_path / "server_load.json")

    assert result.problems == [], "\n".join(result.problems[:20])
    assert len(result.latencies) == SERVER_RUNS
    log = load_server.log()
    for needle in ("BlockingError", "Blocking call", "database is locked"):
        assert needle not in log, log[-4000:]


# ----------------------------------------------------------------------- the SQLite scenario


@asynccontextmanager
async def sqlite_savers(path: Path, connections: int) -> AsyncIterator[list[AsyncSqliteSaver]]:
    """``connections`` savers, each ``async_sqlite_saver(path)`` with its own connection."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(async_sqlite_saver(path))
               for _ in range(connections)]


async def checkpoint_counts(path: Path) -> dict[str, dict[str, int]]:
    """thread_id -> {namespace kind (``""``, ``researcher``, ``critic``): checkpoints}.

    A persisted background child's own thread (``<thread_id>/bg/<tool_call_id>``) counts under
    its parent's thread as kind ``background``.
    """
    counts: dict[str, dict[str, int]] = {}
    async with aiosqlite.connect(path) as conn, conn.execute(
        "SELECT thread_id, checkpoint_ns, count(*) FROM checkpoints GROUP BY 1, 2"
    ) as cur:
        async for tid, ns, n in cur:
            thread, _, child = str(tid).partition("/bg/")
            kind = "background" if child else str(ns).split(":", 1)[0]
            per = counts.setdefault(thread, {})
            per[kind] = per.get(kind, 0) + int(n)
    return counts


async def sqlite_load(path: Path, *, runs: int = SQLITE_RUNS, connections: int = 1,
                      concurrency: int | None = SQLITE_CONCURRENCY,
                      latency: float = SQLITE_LATENCY, topics: str = SQLITE_TOPICS,
                      timeout: float = SQLITE_TIMEOUT) -> LoadResult:
    """``runs`` concurrent research runs on ONE SQLite file through ``connections`` savers.

    Run ``i`` uses saver ``i % connections``; its final state is then read back through
    another saver (another connection when there are several) and checked, and the file is
    counted: every thread must hold checkpoints of the lead, the researcher (on its own thread
    ``<thread_id>/bg/<tool_call_id>``: background children are persisted on a checkpointer
    thread) and the critic.
    ``concurrency`` None: all runs at once.
    """
    result = LoadResult(f"sqlite x{runs} ({connections} conn)", runs,
                        settings={"connections": connections, "concurrency": concurrency,
                                  "latency": latency, "topics": topics})
    model = ScriptedChatModel(policy=research_policy, latency=latency)
    sem = asyncio.Semaphore(concurrency or runs)
    async with sqlite_savers(path, connections) as savers:
        graphs = [compile_agent(research_team(), model=model, checkpointer=s) for s in savers]

        async def one(i: int) -> None:
            cfg: RunnableConfig = {"configurable": {"thread_id": f"load-{i}"}}
            async with sem:
                t0 = time.perf_counter()
                try:
                    await graphs[i % connections].ainvoke(
                        {"messages": [("user", topics)]}, cfg)
                except Exception as exc:
                    result.problems.append(f"run {i}: raised {type(exc).__name__}: {exc}"[:400])
                    return
                result.latencies.append(time.perf_counter() - t0)

        t0, c0 = time.perf_counter(), time.process_time()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(one(i) for i in range(runs)))
        except TimeoutError:
            result.problems.append(f"overall: timeout after {timeout} s")
        result.seconds = time.perf_counter() - t0
        result.cpu_seconds = time.process_time() - c0

        for i in range(runs):  # read back through another connection than the writer's
            state = await graphs[(i + 1) % connections].aget_state(
                {"configurable": {"thread_id": f"load-{i}"}})
            found = research_problems(state.values.get("messages", []), topics)
            if state.next:
                found.append(f"thread not finished, next={state.next}")
            result.problems.extend(f"run {i}: {p}" for p in found)

    counts = await checkpoint_counts(path)
    for i in range(runs):
        per = counts.get(f"load-{i}", {})
        researcher = per.get("researcher", 0) + per.get("background", 0)  # persisted: own thread
        if not (researcher > 0 and all(per.get(kind, 0) > 0 for kind in ("", "critic"))):
            result.problems.append(f"run {i}: checkpoints per namespace {per}")
    result.settings["checkpoints"] = sum(sum(c.values()) for c in counts.values())
    return result


@pytest.mark.load
@pytest.mark.parametrize("connections", [1, 4])
async def test_sqlite_one_file_many_runs(tmp_path: Path, connections: int) -> None:
    result = await sqlite_load(tmp_path / "one.sqlite", connections=connections)
    write_report(result, tmp_path / "sqlite_load.json")

    locked = [p for p in result.problems if "locked" in p]
    assert locked == [], "\n".join(locked[:20])
    assert result.problems == [], "\n".join(result.problems[:20])
    assert len(result.latencies) == SQLITE_RUNS


def test_research_import_starts_no_model_server() -> None:
    # In a fresh interpreter without SUBAGENTS_MODEL, make starting the embedded server fail
    # loudly, then import the module that only defines the team and the exported graph.
    code = (
        "import subagents.local as local\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('import started the embedded model server')\n"
        "local.ensure_server = refuse\n"
        "import subagents.graphs.research\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SUBAGENTS_MODEL"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_research_problems_flags_incomplete_runs() -> None:
    # the checker of the load tests must not pass vacuously
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    def tool(name: str, payload: dict[str, Any]) -> ToolMessage:
        return ToolMessage(json.dumps(payload), name=name, tool_call_id=name)

    done = {"status": "completed"}
    complete = [HumanMessage("a"), AIMessage(""), tool("task", {"status": "running"}),
                AIMessage(""), tool("agent_await", {"results": [done]}), AIMessage(""),
                tool("task", done), AIMessage("report: fine")]
    assert research_problems(complete, "a") == []
    assert research_problems(_as_dicts(complete), "a") == []  # server JSON shape
    assert research_problems(complete[:-1], "a")  # no report
    assert research_problems(complete, "a, b")  # a researcher missing
    failed = [*complete[:4], tool("agent_await", {"results": [{"status": "failed"}]}),
              *complete[5:]]
    assert research_problems(failed, "a")
    assert research_problems([], "a")
