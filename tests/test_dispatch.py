"""Fire-and-forget delivery, restarts, delayed and cron delegations (the Dispatcher)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from _waiting import Changes
from subagents import Agent, BackgroundConfig, SpecError, compile_agent
from subagents.checkpoints import memory_saver
from subagents.dispatch import Dispatcher, Handler, Webhook
from subagents.testing import ScriptedChatModel, ai, call


class Hook:
    """A loopback webhook receiver: records POSTs; answers ``fail_first`` 500s first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.fail_first = fail_first
        hook = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.fail_first > 0:
                    hook.fail_first -= 1
                    self.send_response(500)
                else:
                    hook.posts.append((self.headers["Idempotency-Key"], body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


SPEED = {"factor": 1.0}
LONG = 0.3
WORK: dict[str, asyncio.Event] = {}
"""``"started"``: set when long work starts; ``"done"``: set by the test to end it."""


@pytest.fixture(autouse=True)
def _fresh_work() -> None:
    WORK.clear()


def work_event(name: str) -> asyncio.Event:
    return WORK.setdefault(name, asyncio.Event())


@tool
async def work(seconds: float) -> str:
    """Work for some seconds.

    Long work (``seconds * SPEED >= LONG``) goes on until the test sets ``WORK["done"]`` (or
    never: until it is cancelled or its process dies); shorter work ends at once.
    """
    if seconds * SPEED["factor"] >= LONG:
        work_event("started").set()
        await work_event("done").wait()
    return f"worked {seconds}s"


def worker_policy(messages: list, agent: str | None) -> AIMessage:
    task = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
    if isinstance(messages[-1], HumanMessage):
        seconds = float(task.split("=")[1]) if "=" in task else 0.0
        return ai(call("work", seconds=seconds))
    return ai(f"result of {task}")


def worker() -> Agent:
    return Agent(name="worker", model=ScriptedChatModel(policy=worker_policy), tools=[work])


async def test_background_delegation_outlives_its_parent_and_is_delivered(
        tmp_path: Path, hook: Hook) -> None:
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()]) as dispatcher:
        bg = BackgroundConfig(deliver=Webhook(url=hook.url), dispatcher=dispatcher)
        lead_model = ScriptedChatModel(steps={"lead": [
            ai(call("task", agent="worker", objective="t=0.3", background=True)),
            ai("handed off")]})
        lead = Agent(name="lead", model=lead_model, subagents=[worker()], background=bg)
        out = await compile_agent(lead).ainvoke({"messages": [HumanMessage("go")]})
        spawned = json.loads(next(m for m in out["messages"] if isinstance(m, ToolMessage))
                             .content)
        assert spawned["status"] == "running" and spawned["detached"] is True
        assert hook.posts == []  # the parent run is over; the child is still working
        work_event("done").set()
        final = await dispatcher.wait(spawned["id"], timeout=10)
    assert final["status"] == "delivered"
    origin = {"thread_id": None, "run_id": final["origin"]["run_id"], "path": ["lead", "worker"],
              "tool_call_id": lead_model.calls_by("lead")[0].reply.tool_calls[0]["id"]}
    assert hook.posts == [(spawned["id"], {"job_id": spawned["id"], "agent": "worker",
                                           "status": "completed", "result": "result of t=0.3",
                                           "error": None, "origin": origin})]


async def test_webhook_is_retried_with_backoff(tmp_path: Path) -> None:
    hook = Hook(fail_first=2)
    try:
        async with Dispatcher(tmp_path / "jobs.sqlite", [worker()]) as d:
            job = await d.submit("worker", "t=0", deliver=Webhook(url=hook.url, backoff=0.05))
            final = await d.wait(job, timeout=10)
    finally:
        hook.close()
    assert final["status"] == "delivered" and len(hook.posts) == 1


async def test_unreachable_webhook_keeps_the_result(tmp_path: Path) -> None:
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()]) as d:
        job = await d.submit("worker", "t=0", deliver=Webhook(
            url="http://127.0.0.1:9/none", max_attempts=2, backoff=0.01, timeout=0.5))
        final = await d.wait(job, timeout=10)
    assert final["status"] == "delivery_failed"
    assert final["result"]["result"] == "result of t=0"
    assert "webhook" in final["error"]


async def test_handler_delivery_and_delay(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()],
                          handlers={"done": got.append}) as d:
        start = time.monotonic()
        job = await d.submit("worker", "t=0", deliver=Handler(name="done"), delay=0.5)
        assert (await d.status(job))["status"] == "pending"
        await d.wait(job, timeout=10)
        assert time.monotonic() - start >= 0.5
    assert [g["result"] for g in got] == ["result of t=0"]


async def test_cron_runs_each_occurrence_as_its_own_job(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    delivered = Changes()

    def tick(payload: dict[str, Any]) -> None:
        got.append(payload)
        delivered.notify()

    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()], handlers={"tick": tick}) as d:
        job = await d.submit("worker", "t=0", deliver=Handler(name="tick"),
                             cron="* * * * * *", job_id="every-second")
        await delivered.until(lambda: len(got) >= 2, timeout=8, what="two cron deliveries")
        runs = await d.jobs(prefix=f"{job}@")
    assert len(got) >= 2
    assert len({g["job_id"] for g in got}) == len(got)
    assert all(r["id"].startswith("every-second@") for r in runs)


async def test_bad_submissions_are_spec_errors(tmp_path: Path) -> None:
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()]) as d:
        with pytest.raises(SpecError, match="unknown agent 'nobody'"):
            await d.submit("nobody", "x")
        with pytest.raises(SpecError, match="invalid cron"):
            await d.submit("worker", "x", cron="every day")
        first = await d.submit("worker", "x", job_id="same", delay=60)
        assert await d.submit("worker", "y", job_id="same", delay=60) == first
        assert (await d.status("same"))["status"] == "pending"


def _crashing_worker(db: str, url: str) -> None:
    async def main() -> None:
        d = Dispatcher(db, [worker()])
        await d.start()
        await d.submit("worker", "t=30", deliver=Webhook(url=url), job_id="long")
        await asyncio.wait_for(work_event("started").wait(), 30)  # inside the long tool now
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())


async def test_restart_after_sigkill_finishes_and_delivers_once(
        tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "jobs.sqlite")
    proc = multiprocessing.get_context("fork").Process(target=_crashing_worker,
                                                       args=(db, hook.url))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    monkeypatch.setitem(SPEED, "factor", 0.0)  # the resumed tool call finishes at once
    fast = Agent(name="worker", model=ScriptedChatModel(policy=lambda m, a: ai("resumed ok")),
                 tools=[work])
    async with Dispatcher(db, [fast]) as d:  # a new process would do the same
        final = await d.wait("long", timeout=15)
    assert final["status"] == "delivered"
    assert [key for key, _ in hook.posts] == ["long"]
    assert hook.posts[0][1]["result"] == "resumed ok"


HANGING: dict[str, asyncio.Event] = {}


@tool
async def hang() -> str:
    """Start, then wait until cancelled."""
    HANGING["started"].set()
    await asyncio.Event().wait()
    return "never"


def hanger() -> Agent:
    return Agent(name="worker", model=ScriptedChatModel(policy=lambda m: ai(call("hang"))),
                 tools=[hang])


def routed_lead(bg: BackgroundConfig, objective: str = "t=0") -> Agent:
    model = ScriptedChatModel(policy=lambda m, a: ai(call(
        "task", agent="worker", objective=objective, background=True))
        if isinstance(m[-1], HumanMessage) else ai("handed off"))
    return Agent(name="lead", model=model, subagents=[worker()], background=bg)


def first_result(out: dict[str, Any]) -> dict[str, Any]:
    return json.loads(next(m for m in out["messages"] if isinstance(m, ToolMessage)).content)


async def test_the_delivery_carries_where_it_came_from_and_a_run_sets_its_own_target(
        tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()],
                          handlers={"inbox": got.append}) as d:
        lead = routed_lead(BackgroundConfig(dispatcher=d))  # no target of its own
        graph = compile_agent(lead, checkpointer=memory_saver())
        for n, target in enumerate([Handler(name="inbox"), {"kind": "handler", "name": "inbox"}]):
            cfg = {"configurable": {"thread_id": f"conv-{n}", "run_id": f"run-{n}",
                                    "subagents_delivery": target}}
            spawned = first_result(await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg))
            assert spawned["detached"] is True
            await d.wait(spawned["id"], timeout=10)
        without = first_result(await graph.ainvoke({"messages": [HumanMessage("go")]},
                                                   {"configurable": {"thread_id": "c"}}))
        bad = first_result(await graph.ainvoke({"messages": [HumanMessage("go")]}, {
            "configurable": {"thread_id": "d", "subagents_delivery": {"kind": "handler"}}}))
    assert [g["origin"]["thread_id"] for g in got] == ["conv-0", "conv-1"]
    assert [g["origin"]["run_id"] for g in got] == ["run-0", "run-1"]
    assert all(g["origin"]["path"] == ["lead", "worker"] and g["origin"]["tool_call_id"]
               for g in got)
    assert without["status"] == "running" and "detached" not in without  # in-process child
    assert bad["status"] == "failed" and "subagents_delivery" in bad["error"]


async def test_a_run_target_without_a_dispatcher_is_refused() -> None:
    lead = routed_lead(BackgroundConfig())
    out = await compile_agent(lead).ainvoke(
        {"messages": [HumanMessage("go")]},
        {"configurable": {"subagents_delivery": Handler(name="x")}})
    assert first_result(out)["status"] == "failed"
    assert "dispatcher" in first_result(out)["error"]


async def test_cancel_a_pending_and_a_running_job(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    HANGING["started"] = asyncio.Event()
    async with Dispatcher(tmp_path / "jobs.sqlite", [hanger()],
                          handlers={"done": got.append}) as d:
        later = await d.submit("worker", "x", deliver=Handler(name="done"), delay=3600)
        assert (await d.cancel(later))["cancelled"] is True
        assert (await d.status(later))["status"] == "cancelled"
        assert (await d.cancel(later))["cancelled"] is False  # ended already
        assert await d.cancel("no-such-job") is None
        running = await d.submit("worker", "x", deliver=Handler(name="done"))
        await asyncio.wait_for(HANGING["started"].wait(), 10)
        cancelled = await d.cancel(running)
        assert cancelled is not None and cancelled["cancelled"] is True
        final = await d.wait(running, timeout=10)
    assert final["status"] == "cancelled" and got == []


async def test_unschedule_stops_a_cron_job(tmp_path: Path) -> None:
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker()]) as d:
        cron = await d.submit("worker", "x", cron="0 0 1 1 *", job_id="yearly")
        once = await d.submit("worker", "x", delay=3600)
        assert await d.unschedule(cron) is True
        assert (await d.status(cron))["status"] == "unscheduled"
        assert await d.unschedule(cron) is False
        assert await d.unschedule(once) is False and await d.unschedule("nope") is False


async def test_lifecycle_tools_take_detached_ids(tmp_path: Path) -> None:
    HANGING["started"] = asyncio.Event()

    def policy(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="worker", objective="x", background=True))
        result = json.loads(str(last.content))
        if result.get("detached"):
            return ai(call("agent_await", ids=[result["id"]]))
        if result.get("reason") == "detached":
            return ai(call("agent_cancel", id=result["id"]))
        if "cancelled" in result:
            return ai(call("agent_status", id=result["id"]))
        return ai(json.dumps(result))

    async with Dispatcher(tmp_path / "jobs.sqlite", [hanger()]) as d:
        lead = Agent(name="lead", model=ScriptedChatModel(policy=policy), subagents=[hanger()],
                     background=BackgroundConfig(dispatcher=d, deliver=Handler(name="none")))
        graph = compile_agent(lead)
        out = await graph.ainvoke({"messages": [HumanMessage("go")]})
    results = [json.loads(str(m.content)) for m in out["messages"] if isinstance(m, ToolMessage)]
    spawned, awaited, cancelled, status = results
    assert (awaited["status"], awaited["reason"], awaited["results"]) == ("failed", "detached", [])
    assert awaited["job"]["id"] == spawned["id"] and "agent_status" in awaited["error"]
    assert cancelled["id"] == spawned["id"] and cancelled["status"] == "cancelled"
    assert status["id"] == spawned["id"] and status["status"] == "cancelled"


async def test_a_job_table_of_an_earlier_version_gains_the_origin_column(
        tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "jobs.sqlite"
    with sqlite3.connect(db) as conn:  # the table as 0.x created it, one job waiting
        conn.execute(
            "CREATE TABLE subagent_jobs (id TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT "
            "NOT NULL, delivery TEXT, cron TEXT, run_at REAL NOT NULL, status TEXT NOT NULL, "
            "result TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL, "
            "created REAL NOT NULL, updated REAL NOT NULL)")
        conn.execute("INSERT INTO subagent_jobs (id, agent, task, delivery, run_at, status, "
                     "created, updated) VALUES ('old', 'worker', 't=0', "
                     "'{\"kind\": \"handler\", \"name\": \"done\"}', 0, 'pending', 0, 0)")
    got: list[dict[str, Any]] = []
    async with Dispatcher(db, [worker()], handlers={"done": got.append}) as d:
        final = await d.wait("old", timeout=10)
    assert final["status"] == "delivered" and final["origin"] is None
    assert got[0]["result"] == "result of t=0" and got[0]["origin"] is None
