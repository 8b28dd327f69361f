"""The loop guard: stops only loops without progress (issue 11.1), and says so (issue 12.2)."""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, ValidationError

from subagents import Agent, Budget, DelegationResult, LoopGuard, Status, compile_agent
from subagents.nodes._turn import read_turn
from subagents.nodes.model import REPEAT_NUDGE
from subagents.nodes.plan import STOP_KEY
from subagents.results import tool_result
from subagents.testing import ScriptedChatModel, ai, call

RAN: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    RAN.clear()


@tool
def echo(text: str) -> str:
    """Echo text."""
    RAN.append(text)
    return text


@tool
def nap(seconds: float) -> str:
    """Rest some seconds."""
    RAN.append(f"nap {seconds}")
    return "rested"


@tool
def counter() -> str:
    """Count the calls."""
    RAN.append("count")
    return f"count {len(RAN)}"


@tool
def flaky(query: str) -> str:
    """Fails on its first four calls (a transient outage), then answers."""
    RAN.append(query)
    if len(RAN) <= 4:
        msg = "service unavailable"
        raise ConnectionError(msg)
    return f"found {query}"


def results(out: dict, name: str) -> list[ToolMessage]:
    return [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == name]


async def run(root: Agent) -> dict:
    return await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})


def repeat(step: AIMessage, times: int) -> list[AIMessage]:
    """``times`` replies making the same call (each its own id)."""
    return [ai(*[call(tc["name"], **tc["args"]) for tc in step.tool_calls]) for _ in range(times)]


async def test_polling_agent_status_while_a_background_child_runs() -> None:
    release = asyncio.Event()

    @tool
    async def hold() -> str:
        """Wait until the test releases it."""
        await release.wait()
        return "released"

    def poll(messages: list[BaseMessage]) -> AIMessage:
        job = next(json.loads(str(m.content))["id"] for m in messages
                   if isinstance(m, ToolMessage) and m.name == "task")
        return ai(call("agent_status", id=job))

    def collect(messages: list[BaseMessage]) -> AIMessage:
        release.set()  # after five polls that all saw "running"
        return ai(call("agent_await", ids=[poll(messages).tool_calls[0]["args"]["id"]]))

    model = ScriptedChatModel(steps={
        "root": [ai(call("task", agent="w", objective="wait", background=True)),
                 *[poll] * 5, collect, ai("fin")],
        "w": [ai(call("hold")), ai("held")],
    })
    root = Agent(name="root", model=model, background=True,
                 subagents=[Agent(name="w", tools=[hold])])
    out = await run(root)
    polls = [json.loads(str(m.content)) for m in results(out, "agent_status")]
    assert [p["status"] for p in polls] == ["running"] * 5  # the same result five times
    assert json.loads(str(results(out, "agent_await")[0].content))["status"] == "completed"
    assert out["messages"][-1].content == "fin"
    assert all(REPEAT_NUDGE not in str(c.messages[-1].content) for c in model.calls)
    model.assert_complete()


async def test_an_identical_retry_of_a_failed_tool_runs() -> None:
    step = ai(call("flaky", query="x"))
    model = ScriptedChatModel(steps=[*repeat(step, 5), ai("got it")])
    out = await run(Agent(name="root", model=model, tools=[flaky]))
    answers = results(out, "flaky")
    assert [m.status for m in answers] == ["error"] * 4 + ["success"]
    assert answers[-1].content == "found x" and RAN == ["x"] * 5
    assert out["messages"][-1].content == "got it"


async def test_an_identical_retry_of_a_failed_delegation_runs() -> None:
    step = ai(call("task", agent="child", objective="look"))
    outage = ConnectionError("model server unavailable")
    model = ScriptedChatModel(steps={"root": [*repeat(step, 5), ai("answer")],
                                     "child": [outage] * 4 + [ai("seen it")]})
    out = await run(Agent(name="root", model=model, subagents=[Agent(name="child")]))
    got = [DelegationResult.from_message(m) for m in results(out, "task")]
    assert [r.status for r in got] == [Status.FAILED] * 4 + [Status.COMPLETED]
    assert got[-1].result == "seen it"
    model.assert_complete()


async def test_budget_not_the_guard_ends_a_model_repeating_a_cheap_call() -> None:
    model = ScriptedChatModel(steps=repeat(ai(call("nap", seconds=0)), 5))
    root = Agent(name="root", model=model, tools=[nap], budget=Budget(max_model_calls=4))
    out = await run(root)
    assert len(model.calls) == 4
    assert out["messages"][-1].response_metadata[STOP_KEY] == "over_budget"
    assert out["usage"]["status"] == "over_budget"


async def test_the_guard_stops_the_same_call_with_the_same_result_and_fails_the_child() -> None:
    c = call("task", agent="worker", objective="x")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [*repeat(ai(call("echo", text="same")), 4), ai("")],  # forced answer: empty
    })
    worker = Agent(name="worker", tools=[echo])
    out = await run(Agent(name="root", model=model, subagents=[worker]))
    res = DelegationResult.from_message(results(out, "task")[0])
    assert (res.status, res.result) == (Status.FAILED, None)
    assert res.error == ('stopped by the loop guard: echo {"text": "same"} got the same result '
                         "3 times; the agent answered without tools")
    assert RAN == ["same"] * 3  # the fourth identical call was not run
    last = model.calls_by("worker")[-1]
    assert (last.tools, last.messages[-1].content) == ([], REPEAT_NUDGE)
    assert last.messages[-2].content == "Not run: repeated call."


async def test_the_same_call_with_new_results_is_progress() -> None:
    model = ScriptedChatModel(steps=[*repeat(ai(call("counter")), 6), ai("counted")])
    out = await run(Agent(name="root", model=model, tools=[counter]))  # max_repeats=3
    assert [m.content for m in results(out, "counter")] == [f"count {i}" for i in range(1, 7)]
    assert out["usage"]["status"] == "completed"


async def test_max_repeats_is_per_agent_and_none_turns_the_guard_off() -> None:
    steps = [*repeat(ai(call("echo", text="same")), 5), ai("answer")]
    out = await run(Agent(name="root", model=ScriptedChatModel(steps=steps), tools=[echo],
                          loop_guard=None))
    assert RAN == ["same"] * 5 and out["usage"]["status"] == "completed"
    RAN.clear()
    out = await run(Agent(name="root", model=ScriptedChatModel(steps=steps), tools=[echo],
                          loop_guard=LoopGuard(max_repeats=2)))
    assert RAN == ["same"] * 2 and out["usage"]["status"] == "failed"
    assert "got the same result 2 times" in out["messages"][-1].response_metadata[
        "subagents_error"]


class Found(BaseModel):
    file: str


async def test_a_schema_agent_stopped_by_the_guard() -> None:
    loop = repeat(ai(call("echo", text="a")), 2)
    model = ScriptedChatModel(steps={
        "root": [*repeat(ai(call("task", agent="finder", objective="find")), 2), ai("done")],
        "finder": [*loop, ai("no idea"), *repeat(loop[0], 2),
                   ai(call("final_answer", file="a.py"))],
    })
    finder = Agent(name="finder", tools=[echo], output_schema=Found,
                   loop_guard=LoopGuard(max_repeats=1))
    out = await run(Agent(name="root", model=model, subagents=[finder]))
    first, second = (DelegationResult.from_message(m) for m in results(out, "task"))
    assert (first.status, first.result) == (Status.FAILED, "no idea")
    assert (first.error or "").startswith("stopped by the loop guard: echo")
    assert (second.status, second.result) == (Status.COMPLETED, {"file": "a.py"})


def test_a_timeout_or_failed_result_is_a_retry_other_refusals_are_results() -> None:
    def turn_after(status: Status, times: int) -> list[BaseMessage]:
        messages: list[BaseMessage] = [HumanMessage("go")]
        for _ in range(times):
            tc = call("task", agent="c", objective="o")
            messages += [ai(tc), tool_result(status, "c", tool_call_id=tc["id"] or "",
                                             tool_name="task", error="x")]
        return messages

    again = [call("task", agent="c", objective="o")]
    for status in (Status.TIMEOUT, Status.FAILED):
        assert read_turn(turn_after(status, 5)).looping(again, 1) is None
    for status in (Status.UNKNOWN_AGENT, Status.CANCELLED, Status.COMPLETED):
        loop = read_turn(turn_after(status, 2)).looping(again, 2)
        assert loop is not None and loop.times == 2
        assert read_turn(turn_after(status, 1)).looping(again, 2) is None


def test_loop_guard_settings_are_validated() -> None:
    assert Agent(name="a").loop_guard == LoopGuard(max_repeats=3)
    with pytest.raises(ValidationError, match="max_repeats"):
        LoopGuard(max_repeats=0)
    with pytest.raises(ValidationError, match="max_repeat"):
        LoopGuard(max_repeat=2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="frozen"):
        LoopGuard().max_repeats = 5  # type: ignore[misc]


def echo_call(call_id: str, text: str) -> ToolCall:
    return ToolCall(name="echo", args={"text": text}, id=call_id, type="tool_call")


def test_a_reused_tool_call_id_is_judged_by_its_own_replys_answer() -> None:
    # a model may reuse an id in a later reply: the earlier reply's error answered the first
    # "x", the later reply's "x" got a real result, so repeating that call is a loop
    history = [
        HumanMessage("go"),
        AIMessage(content="", tool_calls=[echo_call("x", "a")]),
        ToolMessage("Error: boom", tool_call_id="x", name="echo", status="error"),
        AIMessage(content="", tool_calls=[echo_call("x", "b")]),
        ToolMessage("b", tool_call_id="x", name="echo"),
    ]
    again = echo_call("y", "b")
    loop = read_turn(history).looping([again], max_repeats=1)
    assert loop is not None and loop.call == again and loop.times == 1
    retry = echo_call("z", "a")  # its identical call ended in an error: a retry
    assert read_turn(history).looping([retry], max_repeats=1) is None
