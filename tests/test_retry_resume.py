"""A retried delegation resumed in a later attempt goes on from that attempt.

The ordinary thing: a child under ``Agent.retry`` fails once, and its second attempt pauses
(an ``interrupt()`` in a tool, a crash). The resume must continue attempt 2 where it paused:
attempt 1 is not run again, the result says ``attempts: 2`` with attempt 1's error, and a
budget counts attempt 2's calls made before the pause.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, RetryPolicy, interrupt
from typing_extensions import TypedDict

from _kill_points import (
    World,
    background_then_await,
    fork_run,
    inspect_file,
    read_log,
    start_or_resume,
)
from _pausing import note_and_ask
from subagents import (
    Agent,
    BackgroundConfig,
    Budget,
    DelegationResult,
    Status,
    compile_agent,
    delegate_node,
    observe,
)
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")

FAST = RetryPolicy(max_attempts=3, initial_interval=0, jitter=False, retry_on=RuntimeError)


class Crash(BaseException):
    """Ends the whole run, as a killed process would (never caught as a failed attempt)."""


class Child:
    """A child model: raises at its first call (attempt 1), then asks a human ``asks`` times.

    ``crash_once``: the ``ask`` tool crashes the run the first time instead of asking.
    """

    def __init__(self, asks: int = 1, *, crash_once: bool = False) -> None:
        self.calls: list[int] = []
        self.asks, self.crash_once = asks, crash_once

    def __call__(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls.append(len(messages))
        if len(self.calls) == 1:
            raise RuntimeError("flake")
        answers = [m for m in messages if isinstance(m, ToolMessage)]
        if len(answers) < self.asks:
            return ai(call("ask", question=f"ok {len(answers)}?"))
        return ai("done: " + ", ".join(str(m.content) for m in answers))

    def tool(self) -> Any:
        state = self

        @tool
        def ask(question: str) -> str:
            """Ask the human."""
            if state.crash_once:
                state.crash_once = False
                raise Crash
            return str(interrupt(question))

        return ask


def team(child: Child, *, persistent: bool, budget: Budget | None = None) -> Agent:
    worker = Agent(name="w", model=ScriptedChatModel(policy=child), tools=[child.tool()],
                   retry=FAST, persistent=persistent, budget=budget)
    root_model = ScriptedChatModel(steps={"root": [
        ai(call("task", agent="w", objective="x")), ai("fin")]})
    return Agent(name="root", model=root_model, subagents=[worker])


def result(out: dict[str, Any]) -> DelegationResult:
    (msg,) = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == "task"]
    return DelegationResult.from_message(msg)


def resume_all_sync(graph: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], int]:
    out = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    pauses = 0
    while "__interrupt__" in out and pauses < 5:
        pauses += 1
        out = graph.invoke(Command(resume=f"yes{pauses}"), cfg)
    return out, pauses


async def resume_all(graph: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], int]:
    out = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    pauses = 0
    while "__interrupt__" in out and pauses < 5:
        pauses += 1
        out = await graph.ainvoke(Command(resume=f"yes{pauses}"), cfg)
    return out, pauses


@pytest.mark.parametrize("persistent", [False, True], ids=["fresh", "persistent"])
async def test_an_interrupt_in_a_second_attempt_resumes_that_attempt(
        async_saver: Saver, persistent: bool) -> None:
    child = Child()
    graph = compile_agent(team(child, persistent=persistent), checkpointer=async_saver)
    out, pauses = await resume_all(graph, {"configurable": {"thread_id": "retry-resume"}})
    res = result(out)
    assert (res.status, res.result, pauses) == (Status.COMPLETED, "done: yes1", 1)
    assert (res.attempts, res.errors) == (2, ["RuntimeError: flake"])
    assert len(child.calls) == 3  # the flake, the ask, the answer: attempt 1 not run again


@pytest.mark.parametrize("persistent", [False, True], ids=["fresh", "persistent"])
def test_sync_runs_resume_the_second_attempt_too(saver: Saver, persistent: bool) -> None:
    child = Child(asks=2)
    graph = compile_agent(team(child, persistent=persistent), checkpointer=saver)
    out, pauses = resume_all_sync(graph, {"configurable": {"thread_id": "retry-resume-sync"}})
    res = result(out)
    assert (res.status, res.result, pauses) == (Status.COMPLETED, "done: yes1, yes2", 2)
    assert (res.attempts, res.errors, len(child.calls)) == (2, ["RuntimeError: flake"], 4)


async def test_a_crash_in_a_second_attempt_resumes_that_attempt(async_saver: Saver) -> None:
    child = Child(crash_once=True)
    graph = compile_agent(team(child, persistent=False), checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "retry-crash"}}
    with pytest.raises(Crash):
        await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    out = await graph.ainvoke(None, cfg)  # the run resumed from its saver
    assert "__interrupt__" in out
    out = await graph.ainvoke(Command(resume="yes"), cfg)
    res = result(out)
    assert (res.status, res.attempts, res.errors) == (Status.COMPLETED, 2, ["RuntimeError: flake"])
    assert len(child.calls) == 3  # the flake, the ask that crashed, the answer


async def test_a_budget_counts_the_resumed_attempts_calls_before_the_pause(
        async_saver: Saver) -> None:
    """``max_model_calls=2`` in attempt 2: the call before the pause counts after it."""
    child = Child(asks=2)
    graph = compile_agent(team(child, persistent=False, budget=Budget(max_model_calls=2)),
                          checkpointer=async_saver)
    out, pauses = await resume_all(graph, {"configurable": {"thread_id": "retry-budget"}})
    res = result(out)
    assert (res.status, res.attempts, pauses) == (Status.OVER_BUDGET, 2, 2)
    assert len(child.calls) == 3  # the flake, then attempt 2's two calls


class Noted:
    """A child model: attempt 1 makes a tool round, then raises; attempt 2 asks (``pause``:
    a human, through ``interrupt()``; else the tool answers at once) and answers."""

    def __init__(self, pause: bool) -> None:
        self.calls, self.pause = 0, pause

    def __call__(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls += 1
        if self.calls == 1:
            return ai(call("note", q="a"))
        if self.calls == 2:
            raise RuntimeError("flake")
        last = messages[-1]  # a persistent child's thread holds attempt 1's round too
        answered = isinstance(last, ToolMessage) and last.name == "ask"
        return ai("done") if answered else ai(call("ask", q="ok?"))

    def tools(self) -> list[Any]:
        return note_and_ask(self.pause)


def spending_team(child: Noted, persistent: bool, limit: int) -> Agent:
    worker = Agent(name="w", model=ScriptedChatModel(policy=child), tools=child.tools(),
                   retry=FAST, persistent=persistent)
    root_model = ScriptedChatModel(steps={"root": [
        ai(call("task", agent="w", objective="x")), ai("fin"), ai("more")]})
    return Agent(name="root", model=root_model, subagents=[worker],
                 budget=Budget(max_model_calls=limit))


@pytest.mark.parametrize("persistent", [False, True], ids=["fresh", "persistent"])
async def test_a_resumed_attempt_counts_the_earlier_attempts_spending(
        async_saver: Saver, persistent: bool) -> None:
    """The root's budget counts attempt 1's model calls and tool round after the resume.

    The run that pauses in attempt 2 must end as the run that does not pause: same counters
    (model calls, tool rounds, tokens), same last message, in either case at the limit.
    """
    ends = []
    for pause in (False, True):
        child = Noted(pause)
        graph = compile_agent(spending_team(child, persistent, limit=6),
                              checkpointer=async_saver)
        cfg = {"configurable": {"thread_id": f"retry-spent-{pause}"}}
        scope, run = observe(cfg)
        out = await graph.ainvoke({"messages": [HumanMessage("go")]}, run)
        if pause:
            assert "__interrupt__" in out
            scope, run = observe(cfg)
            out = await graph.ainvoke(Command(resume="yes"), run)
        assert "__interrupt__" not in out and child.calls == 4
        ends.append((dict(scope.spent), out["messages"][-1].content, result(out).attempts))
    assert ends[0] == ends[1]
    assert ends[1][0]["model_calls"] == 6 and ends[1][0]["tool_rounds"] == 3


def test_sync_resumed_attempts_count_the_earlier_spending_too(saver: Saver) -> None:
    counters = []
    for pause in (False, True):
        graph = compile_agent(spending_team(Noted(pause), False, limit=6), checkpointer=saver)
        cfg = {"configurable": {"thread_id": f"retry-spent-sync-{pause}"}}
        scope, run = observe(cfg)
        out = graph.invoke({"messages": [HumanMessage("go")]}, run)
        if pause:
            assert "__interrupt__" in out
            scope, run = observe(cfg)
            out = graph.invoke(Command(resume="yes"), run)
        counters.append((dict(scope.spent), result(out).attempts))
    assert counters[0] == counters[1] and counters[1][0]["model_calls"] == 6


class Flow(TypedDict, total=False):
    topic: str
    answer: str | None
    outcome: DelegationResult | None


def test_a_pipeline_step_resumes_its_second_attempt(saver: Saver) -> None:
    child = Child()
    worker = Agent(name="w", model=ScriptedChatModel(policy=child), tools=[child.tool()],
                   retry=FAST)
    flow = StateGraph(Flow)
    flow.add_node("w", delegate_node(worker, input="topic", output_key="answer",
                                     result_key="outcome"))
    flow.add_edge(START, "w")
    flow.add_edge("w", END)
    graph = flow.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "pipeline-retry"}}
    assert "__interrupt__" in graph.invoke({"topic": "x"}, cfg)
    out = graph.invoke(Command(resume="yes"), cfg)
    res = out["outcome"]
    assert (out["answer"], res.attempts, res.errors) == ("done: yes", 2, ["RuntimeError: flake"])
    assert len(child.calls) == 3


# -- a background child re-attached after a restart (SQLite, forked processes, SIGKILL) ------


def restart_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """Root: one background call, then await it. Child: attempt 1 fails, attempt 2 works."""
    if agent == "root":
        step = sum(isinstance(m, AIMessage) for m in messages)
        return background_then_await(messages, step, 1)
    tasks = sum(isinstance(m, HumanMessage) for m in messages)  # one per attempt (own thread)
    World.point({"kind": "model", "attempt": tasks})
    if tasks == 1:
        raise RuntimeError("flake")
    answered = [m for m in messages if isinstance(m, ToolMessage)]
    return ai(f"{len(answered)} inspected") if answered else ai(call("inspect_file", name="f"))


def restart_worker(db: str, kill_at: int, log_path: str, out_path: str) -> None:
    World.kill_at, World.count = kill_at, 0
    World.log = open(log_path, "a")  # noqa: SIM115 - closed by the process exit
    w = Agent(name="w", tools=[inspect_file], retry=FAST)
    root = Agent(name="root", model=ScriptedChatModel(policy=restart_policy), subagents=[w],
                 background=BackgroundConfig(persist=True))
    start_or_resume(root, db, "bg-retry", "go", out_path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_background_child_re_attached_in_its_second_attempt_goes_on_from_it(
        tmp_path: Path) -> None:
    def run(kill_at: int) -> tuple[int, str | None]:
        out = tmp_path / "out"
        return fork_run(restart_worker, (str(tmp_path / "db.sqlite"), kill_at,
                                         str(tmp_path / "log"), str(out)), out)

    code, _ = run(3)  # attempt 1's model call, attempt 2's, then its tool: killed there
    assert code == -signal.SIGKILL
    before = read_log(tmp_path / "log")
    (tmp_path / "log").unlink()
    code, answer = run(0)
    assert code == 0 and answer is not None
    _, status, result = answer.split(":", 2)
    assert (status, result) == ("completed", "1 inspected")
    assert [e["attempt"] for e in before if e["kind"] == "model"] == [1, 2]
    after = read_log(tmp_path / "log")
    assert [e.get("attempt") for e in after] == [None, 2]  # the tool again, then attempt 2
    with SqliteSaver.from_conn_string(str(tmp_path / "db.sqlite")) as saver:
        latest = saver.get_tuple({"configurable": {"thread_id": "bg-retry", "checkpoint_ns": ""}})
    assert latest is not None
    (awaited,) = [json.loads(str(m.content)) for m in latest.checkpoint["channel_values"][
        "messages"] if isinstance(m, ToolMessage) and m.name == "agent_await"]
    (res,) = awaited["results"]
    assert (res["attempts"], res["errors"]) == (2, ["RuntimeError: flake"])
