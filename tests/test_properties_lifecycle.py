"""Properties of background delegation and the lifecycle tools (agent_status, agent_cancel,
agent_await) with own, foreign, unknown and ill-typed ids; and of sync ``invoke``, where
background and lifecycle calls fail clearly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from langchain_core.tools import tool

from _properties_support import (
    CHILD,
    EXECUTED,
    GENERATED,
    GUARD,
    ROOT_MODEL,
    SETTINGS,
    TASK_FIELDS,
    TASK_GRAPH,
    TASK_ORACLE,
    TURNS,
    RawModel,
    Turns,
    _nonce,
    answered_turns,
    arun,
    check_run,
    delegation,
    duplicate_text,
    expect,
    fuzz_call,
    repeats,
    report_counts,  # noqa: F401  (autouse: prints the generated counts)
    sentinel_task,
    srun,
    task_turn,
    tc,
    twins,
)
from _strategies import AWAIT_MODES, Foreign, Own, resolve, strings, values
from subagents import Agent, BackgroundConfig, Status, compile_agent
from subagents.events import BaseEvent

SLOW_JOBS: dict[str, asyncio.Event] = {}
"""``"go"``: set when the lead sends its lifecycle calls; a slow job works until then."""


@tool
async def nap(seconds: float) -> str:
    """Work until the lead has sent its lifecycle calls (still running when they start)."""
    go = SLOW_JOBS.get("go")
    if go is not None:
        await go.wait()
    return "rested"


def no_stray_tasks() -> None:
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not left, f"tasks left running after the run: {left}"


ID_VALUES = st.one_of(st.builds(Own, st.integers(0, 3)), st.just(Foreign()),
                      st.sampled_from(["bg_0", "bg_999999999", "", "\x00", "\ud800"]), values)
LIFECYCLE_FIELDS = {
    "agent_status": {"id": ID_VALUES},
    "agent_cancel": {"id": ID_VALUES},
    "agent_await": {"ids": st.lists(ID_VALUES, max_size=4) | ID_VALUES,
                    "mode": st.sampled_from(AWAIT_MODES) | strings | values},
}


LEAD_TURNS = Turns()
LEAD_MODEL = RawModel(policy=LEAD_TURNS.policy("lead"))
WORKER = Agent(name="worker", model=CHILD, tools=[nap])
LEAD_GRAPH = compile_agent(Agent(name="lead", model=LEAD_MODEL, subagents=[WORKER],
                                 background=True, loop_guard=GUARD))
LEAD_ORACLE: dict[str, Any] = {
    "root_tools": set(), "lifecycle": {"agent_status", "agent_cancel", "agent_await"},
    "background": True, "children": {"task:worker": "worker"}}
QUEUED_MODES = ("allSettled", "race")
QUEUED_GRAPH = compile_agent(Agent(
    name="lead", model=LEAD_MODEL, subagents=[WORKER], loop_guard=GUARD,
    background=BackgroundConfig(max_concurrent=1, timeout=0.2, await_modes=QUEUED_MODES)))
"""The same lead with a FIFO queue of one, a timeout and two await modes only."""


_foreign: list[str] = []


async def foreign_id() -> str:
    """A background id spawned by another run of another graph."""
    if not _foreign:
        turns = Turns()
        other = compile_agent(Agent(name="other", model=RawModel(policy=turns.policy("other")),
                                    subagents=[Agent(name="helper", model=CHILD)],
                                    background=True))
        turns.turns = [AIMessage(content="", tool_calls=[
            tc("task", {"agent": "helper", "objective": "x", "background": True}, "f1")])]
        out = await arun(other)
        msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
        _foreign.append(json.loads(str(msg.content))["id"])
    return _foreign[0]


def own_ids(messages: list[BaseMessage]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == "task":
            data = json.loads(str(m.content))
            if data.get("status") == "running":
                out.append(data["id"])
    return out


spawn_turn = st.lists(fuzz_call({"task": {**TASK_FIELDS, "agent": st.just("worker")}}),
                      max_size=3)
lifecycle_turn = st.lists(fuzz_call(LIFECYCLE_FIELDS), min_size=1, max_size=5)


@SETTINGS
@given(spawn=spawn_turn, slow=st.lists(st.booleans(), min_size=1, max_size=3),
       checks=lifecycle_turn, queued=st.booleans())
async def test_lifecycle_tools_answer_every_call_once(spawn: list[ToolCall], slow: list[bool],
                                                      checks: list[ToolCall],
                                                      queued: bool) -> None:
    """agent_status/agent_cancel/agent_await with own, foreign, unknown and ill-typed ids."""
    graph, modes = (QUEUED_GRAPH, QUEUED_MODES) if queued else (LEAD_GRAPH, tuple(AWAIT_MODES))
    foreign = await foreign_id()
    spawns = [tc("task", {"agent": "worker", "objective": f"{'SLOWJOB' if s else 'quick'} "
                          f"{next(_nonce)}", "background": True}) for s in slow]
    GENERATED["task background (async)"] += len(spawn) + len(spawns)
    GENERATED["lifecycle (async)"] += len(checks) + 1
    SLOW_JOBS["go"] = asyncio.Event()

    def second(messages: list[BaseMessage]) -> AIMessage:
        SLOW_JOBS["go"].set()
        own = own_ids(messages)
        calls = [tc(c["name"], resolve(c["args"], own, foreign)) for c in checks]
        calls.append(tc("agent_status", {"id": own[0]}, "sent_status"))
        return AIMessage(content="", tool_calls=calls)

    LEAD_TURNS.turns = [AIMessage(content="", tool_calls=[*spawns, *spawn]), second]
    start, before, executed = len(LEAD_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(graph, events=events)
    no_stray_tasks()
    check_run(out, LEAD_MODEL, "lead", LEAD_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    own = own_ids(out["messages"])
    assert len(own) >= len(spawns)
    results = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    ai_turns = [m for m in out["messages"] if isinstance(m, AIMessage)]
    if repeats(answered_turns(out["messages"]))[1]:  # the loop guard answered turn 2
        return
    ai_turn = ai_turns[1]
    dup_of = dict(zip([c["id"] for c in ai_turn.tool_calls], twins(ai_turn.tool_calls),
                      strict=True))
    if dup_of["sent_status"] is None:  # (checked by check_run when it duplicates a call)
        assert json.loads(str(results["sent_status"].content))["id"] == own[0]  # intact
    for call in ai_turn.tool_calls:
        if call["name"] not in LEAD_ORACLE["lifecycle"] or dup_of[call["id"]] is not None:
            continue
        data, args = json.loads(str(results[call["id"] or ""].content)), call["args"]
        if call["name"] in ("agent_status", "agent_cancel"):
            if args.get("id") in own:
                assert data.get("id") == args["id"]
            else:  # foreign, unknown or ill-typed: refused, never looked up elsewhere
                assert data["status"] == "failed" and data["error"], data
        else:
            ids = args.get("ids")
            ids = [ids] if isinstance(ids, str) else ids
            mode = args.get("mode", modes[0])
            ok = (isinstance(ids, list) and bool(ids) and all(i in own for i in ids)
                  and isinstance(mode, str) and mode in modes)
            if not ok:
                assert data["status"] == "failed" and data["error"], data
            else:
                assert {r["id"] for r in data["results"]} <= set(own)


# --------------------------------------------------------------------------- sync invoke

@SETTINGS
@given(calls=task_turn, lifecycle=lifecycle_turn)
def test_sync_invoke_answers_every_call_once(calls: list[ToolCall],
                                             lifecycle: list[ToolCall]) -> None:
    """Sync ``invoke``: delegation fuzz; background and lifecycle calls fail clearly."""
    calls = [*calls, sentinel_task("alpha")]
    GENERATED["task (sync)"] += len(calls)
    TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    start, before, executed = len(ROOT_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = srun(TASK_GRAPH, events=events)
    check_run(out, ROOT_MODEL, "root", TASK_ORACLE, async_=False, start=start,
              child_calls_before=before, executed_before=executed, events=events)

    bg = [tc("task", {"agent": "worker", "objective": "quick", "background": True}, "bg"),
          *[tc(c["name"], resolve(c["args"], ["bg_1"], "bg_2")) for c in lifecycle]]
    GENERATED["lifecycle (sync)"] += len(bg)
    LEAD_TURNS.turns = [AIMessage(content="", tool_calls=bg)]
    out = srun(LEAD_GRAPH)
    turn, answers = answered_turns(out["messages"])[0]
    for call, first in zip(turn.tool_calls, twins(turn.tool_calls), strict=True):
        msg = answers[call["id"] or ""]
        if first is not None:
            assert msg.content == duplicate_text(first) and msg.status == "error"
            continue
        want = expect(call["name"], call["args"], async_=False, **LEAD_ORACLE)
        if want == "lifecycle":
            data = json.loads(str(msg.content))
            assert data["status"] == "failed" and "async" in data["error"], data
        else:
            assert delegation(msg).status.value == want, (call, msg.content)
    assert Status.FAILED.value == expect("task", bg[0]["args"], async_=False, **LEAD_ORACLE)
    assert "async" in (delegation(answers["bg"]).error or "")
