"""Per-agent retry policies (``Agent.retry``) and timeouts (``Agent.timeout``)."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import RetryPolicy

from subagents import Agent, DelegationResult, SpecError, Status, compile_agent, observe
from subagents.cli import delegation_tree, replay_report
from subagents.dispatch import Dispatcher
from subagents.events import SubagentEnd, SubagentRetry, SubagentStart
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]

FAST = RetryPolicy(max_attempts=3, initial_interval=0, jitter=False)


class Flaky(Exception):
    """What the scripted child model raises while its objective's failures last."""


def objective_of(messages: list[BaseMessage]) -> str:
    return str(next(m for m in messages if isinstance(m, HumanMessage)).content)


class FlakyModel:
    """A child model failing the first ``fails[objective]`` calls per objective, then answering.

    The counter is keyed on the objective (observable in the messages), under a lock: safe for
    parallel children.
    """

    def __init__(self, **fails: int) -> None:
        self.fails = dict(fails)
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, messages: list[BaseMessage]) -> AIMessage:
        objective = objective_of(messages)
        with self.lock:
            left = self.fails.get(objective, 0)
            self.fails[objective] = left - 1
            self.calls[objective] = self.calls.get(objective, 0) + 1
        if left > 0:
            raise Flaky(f"flake of {objective}, {left} left")
        return ai(f"done: {objective}")


def team(fails: dict[str, int], objectives: list[str], *, retry: RetryPolicy | None = FAST,
         background: bool = False) -> tuple[Agent, FlakyModel]:
    flaky = FlakyModel(**fails)
    child_model = ScriptedChatModel(policy=flaky)
    worker = Agent(name="w", model=child_model, retry=retry)
    calls = [call("task", agent="w", objective=o, background=background) for o in objectives]
    then: list[Any] = [ai("all done")]
    if background:
        then = [lambda msgs: ai(call("agent_await", ids=ids(msgs), mode="allSettled")),
                ai("all done")]
    root_model = ScriptedChatModel(steps={"root": [ai(*calls), *then]})
    root = Agent(name="root", model=root_model, subagents=[worker], background=background)
    return root, flaky


def ids(messages: list[BaseMessage]) -> list[str]:
    return [json.loads(str(m.content))["id"] for m in messages
            if isinstance(m, ToolMessage) and '"running"' in str(m.content)]


def results(out: dict[str, Any]) -> dict[str, DelegationResult]:
    """Delegation results by objective ('done: <objective>' or the error's objective)."""
    found = {}
    for m in out["messages"]:
        if isinstance(m, ToolMessage) and m.name == "task":
            found[m.tool_call_id] = DelegationResult.from_message(m)
    return found


async def test_a_child_failing_twice_then_succeeding_is_retried_with_events_and_usage() -> None:
    root, flaky = team({"a": 2}, ["a"])
    events: list[Any] = []
    scope, cfg = observe(on_event=events.append)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    (res,) = results(out).values()
    assert (res.status, res.result, res.attempts) == (Status.COMPLETED, "done: a", 3)
    assert res.errors == ["Flaky: flake of a, 2 left", "Flaky: flake of a, 1 left"]
    assert flaky.calls == {"a": 3}
    mine = [e for e in events if e.path == ["root", "w"]
            and isinstance(e, SubagentStart | SubagentRetry | SubagentEnd)]
    assert [e.type for e in mine] == ["subagent_start", "subagent_retry", "subagent_retry",
                                      "subagent_end"]
    assert [(e.attempt, e.status, e.error) for e in mine[1:3]] == [
        (1, Status.FAILED, res.errors[0]), (2, Status.FAILED, res.errors[1])]
    assert (mine[-1].attempts, mine[-1].errors) == (3, res.errors)
    (root_usage,) = scope.usage.children
    attempts = [(c.attempt, c.status) for c in root_usage.children]
    assert attempts == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert root_usage.totals()["model_calls"] == 2 + 1  # a model call that raised is not counted


def test_sync_invoke_retries_too() -> None:
    root, flaky = team({"a": 2}, ["a"])
    out = compile_agent(root).invoke({"messages": [HumanMessage("go")]})
    (res,) = results(out).values()
    assert (res.status, res.attempts, len(res.errors)) == (Status.COMPLETED, 3, 2)
    assert flaky.calls == {"a": 3}


async def test_parallel_children_retry_independently_and_one_that_never_succeeds_fails() -> None:
    root, _ = team({"a": 2, "b": 9}, ["a", "b", "c"])
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    by_result = sorted((r.status.value, r.attempts, len(r.errors), r.error)
                       for r in results(out).values())
    assert by_result == [
        ("completed", 1, 0, None),
        ("completed", 3, 2, None),
        ("failed", 3, 3, "Flaky: flake of b, 7 left"),
    ]
    assert out["messages"][-1].content == "all done"


async def test_background_children_retry_and_report_attempts() -> None:
    root, _ = team({"a": 2, "b": 9}, ["a", "b"], background=True)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    awaited = next(json.loads(str(m.content)) for m in out["messages"]
                   if isinstance(m, ToolMessage) and m.name == "agent_await")
    got = sorted((r["status"], r["result"], r["attempts"], len(r["errors"]))
                 for r in awaited["results"])
    assert got == [("completed", "done: a", 3, 2), ("failed", None, 3, 3)]


async def test_detached_dispatcher_jobs_retry(tmp_path: Path) -> None:
    worker = Agent(name="w", model=ScriptedChatModel(policy=FlakyModel(a=2, b=9)), retry=FAST)
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker]) as d:
        ok, bad = await d.submit("w", "a"), await d.submit("w", "b")
        done_ok, done_bad = await d.wait(ok, timeout=20), await d.wait(bad, timeout=20)
    assert done_ok["result"]["status"] == "completed"
    assert (done_ok["result"]["attempts"], len(done_ok["result"]["errors"])) == (3, 2)
    assert done_bad["result"]["status"] == "failed" and done_bad["result"]["attempts"] == 3


async def test_retry_on_decides_and_without_a_policy_nothing_is_retried() -> None:
    only_value_errors = RetryPolicy(max_attempts=3, initial_interval=0, jitter=False,
                                    retry_on=ValueError)
    root, flaky = team({"a": 2}, ["a"], retry=only_value_errors)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    (res,) = results(out).values()
    assert (res.status, res.attempts, len(res.errors)) == (Status.FAILED, 1, 1)
    assert flaky.calls == {"a": 1}
    root, flaky = team({"a": 2}, ["a"], retry=None)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert "attempts" not in json.loads(str(msg.content))  # the JSON is unchanged
    assert flaky.calls == {"a": 1}


# --- timeouts ---------------------------------------------------------------------------


def hanging_team(gate: asyncio.Event | threading.Event, *, timeout: float = 0.5,
                 retry: RetryPolicy | None = None, hang_first: int = 99,
                 ) -> tuple[Agent, ScriptedChatModel]:
    """root -> slow (timeout) -> deep, whose tool waits on ``gate``; root -> fast beside it.

    ``slow`` delegates to ``deep`` on its first ``hang_first`` attempts, else answers. The
    hung attempt never ends by itself, so its timeout always fires; ``timeout`` only has to
    leave room for ``slow`` to reach ``deep`` (a few scripted steps) on a loaded machine.
    """
    if isinstance(gate, asyncio.Event):
        @tool
        async def hang() -> str:
            """Wait for the gate."""
            await gate.wait()
            return "released"
    else:
        @tool
        def hang() -> str:
            """Wait for the gate."""
            gate.wait()
            return "released"

    counter = {"slow": 0}
    lock = threading.Lock()

    def slow_policy(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return ai("slow finished")
        with lock:
            counter["slow"] += 1
            first = counter["slow"] <= hang_first
        return ai(call("task", agent="deep", objective="hang")) if first else ai("slow ok")

    def deep_policy(messages: list[BaseMessage]) -> AIMessage:
        return ai("deep finished") if isinstance(messages[-1], ToolMessage) else ai(call("hang"))

    deep = Agent(name="deep", model=ScriptedChatModel(policy=deep_policy), tools=[hang])
    slow_model = ScriptedChatModel(policy=slow_policy)
    slow = Agent(name="slow", model=slow_model, subagents=[deep], timeout=timeout, retry=retry)
    fast = Agent(name="fast", model=ScriptedChatModel(policy=lambda m: ai("fast ok")))
    root_model = ScriptedChatModel(steps={"root": [
        ai(call("task", agent="slow", objective="s"), call("task", agent="fast", objective="f")),
        ai("parent went on")]})
    root = Agent(name="root", model=root_model, subagents=[slow, fast], max_subagent_depth=2)
    return root, slow_model


def by_agent(out: dict[str, Any]) -> dict[str, DelegationResult]:
    return {r.agent: r for r in results(out).values()}


async def test_async_timeout_cancels_the_child_and_its_descendants_not_siblings() -> None:
    root, _ = hanging_team(asyncio.Event())
    events: list[Any] = []
    scope, cfg = observe(on_event=events.append)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    got = by_agent(out)
    assert got["slow"].status is Status.TIMEOUT and "timeout" in (got["slow"].error or "")
    assert got["fast"].status is Status.COMPLETED
    assert out["messages"][-1].content == "parent went on"
    ends = {tuple(e.path): e.status for e in events if isinstance(e, SubagentEnd)}
    assert ends[("root", "slow")] is Status.TIMEOUT
    assert ends[("root", "slow", "deep")] is Status.CANCELLED
    (root_usage,) = scope.usage.children
    statuses = {c.agent: c.status for c in root_usage.children}
    assert statuses == {"slow": "timeout", "fast": "completed"}
    (slow_usage,) = [c for c in root_usage.children if c.agent == "slow"]
    assert [c.status for c in slow_usage.children] == ["cancelled"]


async def test_a_timeout_is_a_failed_attempt_for_the_retry_policy() -> None:
    root, _ = hanging_team(asyncio.Event(), retry=FAST, hang_first=1)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    slow = by_agent(out)["slow"]
    assert (slow.status, slow.result, slow.attempts) == (Status.COMPLETED, "slow ok", 2)
    assert len(slow.errors) == 1 and "timeout" in slow.errors[0]


async def test_background_child_times_out_by_its_agent_timeout() -> None:
    gate = asyncio.Event()
    root, _ = hanging_team(gate)
    spawn = ai(call("task", agent="slow", objective="s", background=True))
    root = root.model_copy(update={
        "background": True,
        "model": ScriptedChatModel(steps={"root": [
            spawn, lambda m: ai(call("agent_await", ids=ids(m), mode="all")), ai("went on")]}),
    })
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    awaited = next(json.loads(str(m.content)) for m in out["messages"]
                   if isinstance(m, ToolMessage) and m.name == "agent_await")
    assert [r["status"] for r in awaited["results"]] == ["timeout"]
    assert out["messages"][-1].content == "went on"


def test_sync_timeout_stops_waiting_and_the_child_stops_at_its_next_node() -> None:
    gate = threading.Event()
    root, slow_model = hanging_team(gate)
    scope, cfg = observe()
    try:
        out = compile_agent(root).invoke({"messages": [HumanMessage("go")]}, cfg)
    finally:
        gate.set()  # release the hung tool so its thread can end
    got = by_agent(out)
    assert got["slow"].status is Status.TIMEOUT and got["fast"].status is Status.COMPLETED
    assert out["messages"][-1].content == "parent went on"
    slow_call = next(m.tool_call_id for m in out["messages"]
                     if isinstance(m, ToolMessage) and m.name == "task"
                     and DelegationResult.from_message(m).agent == "slow")
    for thread in threading.enumerate():
        if thread.name == f"subagent-{slow_call}":
            thread.join(timeout=30)
            assert not thread.is_alive()
    (root_usage,) = scope.usage.children
    (slow_usage,) = [c for c in root_usage.children if c.agent == "slow"]
    assert slow_usage.status == "timeout"
    (deep_usage,) = slow_usage.children
    assert deep_usage.status == "cancelled"  # stopped at its next node after the tool
    assert deep_usage.model_calls == 1 and len(slow_model.calls_by("slow")) == 1


def test_team_files_take_retry_and_timeout(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("root: dev\nagents:\n  - name: dev\n    subagents: [w]\n"
                    "  - name: w\n    timeout: 30\n"
                    "    retry: {max_attempts: 3, initial_interval: 0, jitter: false}\n")
    dev = load_team(path, root=tmp_path)
    (w,) = dev.subagents
    assert isinstance(w, Agent) and w.timeout == 30
    assert w.retry is not None and (w.retry.max_attempts, w.retry.jitter) == (3, False)
    path.write_text("root: dev\nagents:\n  - name: dev\n    retry: {max_attempt: 3}\n")
    with pytest.raises(SpecError, match="max_attempt"):
        load_team(path, root=tmp_path)


def test_spec_rejects_bad_retry_and_timeout() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        Agent(name="a", retry=RetryPolicy(max_attempts=0))
    for bad in ({"initial_interval": math.inf, "max_interval": math.inf},  # waits forever
                {"max_interval": math.nan}, {"backoff_factor": math.inf},
                {"initial_interval": 1e300, "max_interval": 1e300}, {"initial_interval": -1}):
        with pytest.raises(ValueError, match="retry intervals"):
            Agent(name="a", retry=RetryPolicy(**bad))
    with pytest.raises(ValueError, match="timeout"):
        Agent(name="a", timeout=0)


async def test_cli_tree_shows_one_node_per_delegation_with_its_attempts() -> None:
    root, _ = team({"a": 2, "b": 9}, ["a", "b"])
    events: list[Any] = []
    _, cfg = observe(on_event=events.append)
    await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    report = replay_report(events)
    nodes = sorted((n.objective, n.status, n.attempts, len(n.errors), n.model_calls)
                   for n in report.tree.children)
    assert nodes == [("a", "completed", 3, 2, 1), ("b", "failed", 3, 3, 0)]
    labels = sorted(str(branch.label) for branch in delegation_tree(report).children)
    assert all("3 attempts" in label for label in labels)


@pytest.mark.savers("memory", "sqlite", "postgres")
async def test_a_persistent_child_retries_on_its_own_thread_and_keeps_its_history(
        async_saver: Saver) -> None:
    flaky = FlakyModel(a=2)

    def policy(messages: list[BaseMessage]) -> AIMessage:
        reply = flaky([messages[-1]])  # the latest task message decides
        tasks = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        return ai(f"{reply.content}; saw {tasks}")

    worker = Agent(name="w", model=ScriptedChatModel(policy=policy), retry=FAST,
                   persistent=True)
    root_model = ScriptedChatModel(steps={"root": [ai(call("task", agent="w", objective="a")),
                                                   ai("done")]})
    root = Agent(name="root", model=root_model, subagents=[worker])
    graph = compile_agent(root, checkpointer=async_saver)
    out = await graph.ainvoke({"messages": [HumanMessage("go")]},
                              {"configurable": {"thread_id": "t1"}})
    (res,) = results(out).values()
    assert (res.status, res.attempts, len(res.errors)) == (Status.COMPLETED, 3, 2)
    assert res.result == "done: a; saw ['a', 'a', 'a']"  # each attempt sent the task again


async def test_dispatcher_jobs_time_out_per_attempt(tmp_path: Path) -> None:
    gate = asyncio.Event()

    @tool
    async def hang() -> str:
        """Wait for the gate."""
        await gate.wait()
        return "released"

    model = ScriptedChatModel(policy=lambda m: ai("late") if isinstance(m[-1], ToolMessage)
                              else ai(call("hang")))
    worker = Agent(name="w", model=model, tools=[hang], timeout=0.2,
                   retry=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False))
    async with Dispatcher(tmp_path / "jobs.sqlite", [worker]) as d:
        done = await d.wait(await d.submit("w", "x"), timeout=20)
    assert (done["result"]["status"], done["result"]["attempts"]) == ("timeout", 2)
    assert all("timeout" in e for e in done["result"]["errors"])


async def test_cancelling_the_run_between_attempts_ends_the_child_cancelled() -> None:
    slow_backoff = RetryPolicy(max_attempts=3, initial_interval=600, jitter=False)
    root, flaky = team({"a": 2}, ["a"], retry=slow_backoff)
    events: list[Any] = []
    retried = asyncio.Event()

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, SubagentRetry):
            retried.set()

    _, cfg = observe(on_event=on_event)
    run = asyncio.create_task(compile_agent(root).ainvoke({"messages": [HumanMessage("go")]},
                                                          cfg))
    await retried.wait()  # attempt 1 failed; the policy waits 600 s before attempt 2
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    (end,) = [e for e in events if isinstance(e, SubagentEnd) and e.path == ["root", "w"]]
    assert (end.status, end.attempts, len(end.errors)) == (Status.CANCELLED, 1, 1)
    assert end.usage["status"] == "failed"  # the usage of the attempt that ran
    assert flaky.calls == {"a": 1}  # never run again after the cancellation
