"""Throughput and latency under load: a ``langgraph dev`` server, and many runs on one SQLite file.

Run: ``.venv/bin/python benchmarks/load.py [--runs N] [--scenario server|sqlite|all]
[--jobs 10,50] [--connections 1,4] [--concurrency N]``

The scenarios, checks and figures are those of ``tests/test_load.py`` (imported from there):

1. ``server``: ``langgraph dev`` on loopback with the scripted demo model; N runs of the
   ``research`` team (input ``"a, b"``: 2 background researchers + ``agent_await`` + the
   critic), each on its own thread, ``--concurrency`` in flight (default 50), once per
   ``--n-jobs-per-worker`` value in ``--jobs`` (the server's default is 10). Default N: 200.
2. ``sqlite``: in process, N root runs of the same team (input ``"a"``: 1 background
   researcher + ``agent_await``, then the critic) on ONE SQLite file, through 1 saver or
   several connections to it (``--connections``), ``--concurrency`` in flight (default 100),
   10 ms model latency. Default N: 1,000.

Prints runs/s, p50/p95 latency (seconds per run, submission to final state), wall time, CPU
time of the process doing the work, and failed runs (a run that raised, did not succeed, or
left an incomplete thread). A report, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import load_note, render_table

from test_load import (
    SERVER_CONCURRENCY,
    SERVER_RUNS,
    SQLITE_CONCURRENCY,
    SQLITE_LATENCY,
    SQLITE_RUNS,
    LoadResult,
    server_load,
    sqlite_load,
    start_server,
)

HANG_GUARD = 900.0
"""Overall timeout of one batch (seconds): a bound, not a target."""


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def run_server(runs: int, concurrency: int, jobs: list[int]) -> list[LoadResult]:
    out = []
    for n_jobs in jobs:
        with tempfile.TemporaryDirectory(prefix="load-server-") as tmp:
            server = start_server(Path(tmp), jobs_per_worker=n_jobs)
            try:
                result = asyncio.run(server_load(server.url, runs=runs, concurrency=concurrency,
                                                 timeout=HANG_GUARD, pid=server.process.pid))
            finally:
                server.stop()
        result.name = f"server, {n_jobs} jobs/worker"
        out.append(result)
        print(result.line(), flush=True)
    return out


def run_sqlite(runs: int, concurrency: int, connections: list[int],
               latency: float) -> list[LoadResult]:
    out = []
    for conns in connections:
        with tempfile.TemporaryDirectory(prefix="load-sqlite-") as tmp:
            result = asyncio.run(sqlite_load(Path(tmp) / "one.sqlite", runs=runs,
                                             connections=conns, concurrency=concurrency,
                                             latency=latency, timeout=HANG_GUARD))
        result.name = f"sqlite, {conns} connection{'s' if conns > 1 else ''}"
        out.append(result)
        print(result.line(), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=None,
                    help=f"runs per batch (default: server {SERVER_RUNS}, sqlite {SQLITE_RUNS})")
    ap.add_argument("--scenario", choices=["server", "sqlite", "all"], default="all")
    ap.add_argument("--concurrency", type=int, default=None,
                    help=f"in flight (default: server {SERVER_CONCURRENCY}, "
                    f"sqlite {SQLITE_CONCURRENCY})")
    ap.add_argument("--jobs", type=_ints, default=[10, 50],
                    help="langgraph dev --n-jobs-per-worker values, comma-separated")
    ap.add_argument("--connections", type=_ints, default=[1, 4],
                    help="SQLite connections to the one file, comma-separated")
    ap.add_argument("--latency", type=float, default=SQLITE_LATENCY,
                    help="model latency of the in-process runs (s)")
    args = ap.parse_args(argv)

    print(load_note(), flush=True)
    results: list[LoadResult] = []
    if args.scenario in ("server", "all"):
        results += run_server(args.runs or SERVER_RUNS, args.concurrency or SERVER_CONCURRENCY,
                              args.jobs)
    if args.scenario in ("sqlite", "all"):
        results += run_sqlite(args.runs or SQLITE_RUNS, args.concurrency or SQLITE_CONCURRENCY,
                              args.connections, args.latency)

    rows = [[r.name, str(r.runs), f"{r.runs_per_second:.1f}", f"{r.p50:.2f}", f"{r.p95:.2f}",
             f"{r.seconds:.1f}", f"{r.cpu_seconds:.1f}", str(r.failed)] for r in results]
    print()
    print(render_table(["scenario", "runs", "runs/s", "p50 s", "p95 s", "wall s", "cpu s",
                        "failed"], rows))
    for r in results:
        for problem in r.problems[:5]:
            print(f"  {r.name}: {problem}")
    print(load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
