"""Nodes written once as steps: the shared requests, and refusal records made where decided."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.messages import AIMessage, InvalidToolCall, ToolMessage
from langchain_core.runnables import RunnableLambda

from subagents import Agent, Budget, Status
from subagents.nodes._decide import decide
from subagents.nodes._node import Deadline, Nested
from subagents.nodes._refuse import Refusal
from subagents.nodes._turn import Turn
from subagents.nodes.plan import AgentPlan, ChildLink
from subagents.runtime.budget import BudgetDeadline, BudgetTracker
from subagents.runtime.steps import Both, Invoke, Step, adrive, drive
from subagents.testing import ScriptedChatModel, call


class _Never:
    """A request whose async half waits for an event nobody sets (sync: answers at once)."""

    def run(self) -> str:
        return "sync"

    async def arun(self) -> str:
        await asyncio.Event().wait()
        return "never"


def _inner(log: list[str], first: Any) -> Step[str]:
    try:
        got = yield first
        return f"inner {got}"
    finally:
        log.append("inner closed")


def _outer(tracker: BudgetTracker, log: list[str], first: Any) -> Step[str]:
    try:
        got = yield Deadline(tracker, "a test call", Nested(_inner(log, first)))
    except BudgetDeadline as exc:
        return f"deadline: {exc}"
    return str(got)


def test_a_nested_step_under_a_deadline_gives_its_result_both_ways() -> None:
    tracker = BudgetTracker(Budget(max_model_calls=3, max_seconds=60))
    sync_log: list[str] = []
    async_log: list[str] = []

    assert drive(_outer(tracker, sync_log, Invoke(RunnableLambda(lambda x: x + 1), 1))) \
        == "inner 2"
    assert asyncio.run(adrive(_outer(tracker, async_log, Both(lambda: 0, _two)))) == "inner 2"
    assert sync_log == async_log == ["inner closed"]


async def _two() -> int:
    return 2


async def test_the_deadline_cancels_the_nested_step_in_async_runs_and_closes_it() -> None:
    tracker = BudgetTracker(Budget(max_seconds=1e-9))  # already past when the request waits
    log: list[str] = []

    got = await adrive(_outer(tracker, log, _Never()))

    assert got.startswith("deadline: budget exhausted: max_seconds=1e-09")
    assert log == ["inner closed"]  # its ``finally`` (a model call's settle) ran first


def test_a_sync_run_does_not_start_a_request_past_its_deadline() -> None:
    tracker = BudgetTracker(Budget(max_seconds=1e-9))
    log: list[str] = []

    got = drive(_outer(tracker, log, _Never()))

    assert got.startswith("deadline: budget exhausted: max_seconds=1e-09")
    assert log == []  # never started: nothing reserved, nothing to close


def test_a_sync_run_stops_waiting_at_the_deadline_and_the_request_runs_on() -> None:
    tracker = BudgetTracker(Budget(max_seconds=0.2))
    release, log = threading.Event(), []
    stuck = Both(lambda: "late" if release.wait(30) else "never released", _two)
    before = set(threading.enumerate())

    got = drive(_outer(tracker, log, stuck))

    assert got.startswith("deadline: budget exhausted: max_seconds=0.2")
    assert log == []  # still running in its thread
    left = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in left] == ["subagents-deadline"]
    release.set()
    left[0].join(30)
    assert log == ["inner closed"]  # its ``finally`` (a model call's settle) ran there


def _plan(depth: int) -> AgentPlan:
    writer = Agent(name="writer")
    link = ChildLink(agent=writer, node="writer", tool="task",
                     graph=RunnableLambda(lambda x: x), path=("root", "writer"))
    root = Agent(name="root", model=ScriptedChatModel(steps=[]), subagents=[writer])
    return AgentPlan(agent=root, path=("root",), model=ScriptedChatModel(steps=[]), tools={},
                     children={"writer": link}, depth=depth)


def _answers(messages: list[Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}


def _agrees(refusal: Refusal, answer: ToolMessage) -> bool:
    """A refusal record says what the typed result it goes with says."""
    payload = answer.artifact
    return (answer.status == "error" and payload["status"] == refusal.status.value
            and payload["error"] == refusal.error
            and refusal.path[-1] == (payload["agent"] or answer.name))


@pytest.mark.parametrize("depth", [0, 1])
def test_every_refused_delegation_has_its_record_in_message_order(depth: int) -> None:
    unknown = call("task", agent="nobody", objective="look", background=True)
    ok = call("task", agent="writer", objective="write it")
    twin = {**call("task", agent="writer", objective="write it"), "id": "twin"}
    bad = InvalidToolCall(name="task", args="{oops", id="bad", error="not JSON",
                          type="invalid_tool_call")
    reply = AIMessage(content="", name="root", tool_calls=[unknown, ok, twin],
                      invalid_tool_calls=[bad])

    out = decide(_plan(depth), Turn(), reply, forced=False)

    answers = _answers(out.messages)
    ok_refused = [] if depth else [(ok["id"], Status.DEPTH_EXCEEDED)]
    want = [("bad", Status.FAILED), (unknown["id"], Status.UNKNOWN_AGENT), *ok_refused,
            ("twin", Status.FAILED)]
    assert [(r.tool_call_id, r.status) for r in out.refused] == want
    assert [m.tool_call_id for m in out.messages[1:]] == [tid for tid, _ in want]
    assert all(_agrees(r, answers[r.tool_call_id]) for r in out.refused)
    by_id = {r.tool_call_id: r for r in out.refused}
    assert by_id[unknown["id"]] == Refusal(
        path=("root", "nobody"), tool_call_id=unknown["id"], objective="look", background=True,
        status=Status.UNKNOWN_AGENT, error=by_id[unknown["id"]].error)
    assert by_id["bad"].path == ("root", "task") and by_id["bad"].objective == ""
    assert [s.arg["tool_call"]["id"] for s in out.sends] == ([ok["id"]] if depth else [])


def test_a_reply_without_refusals_has_no_records() -> None:
    reply = AIMessage(content="", name="root",
                      tool_calls=[call("task", agent="writer", objective="go")])

    out = decide(_plan(1), Turn(), reply, forced=False)

    assert out.refused == [] and len(out.sends) == 1 and out.messages == [reply]
