"""Background children across a pause: parked on a paused thread, adopted on its resume."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, interrupt

from _waiting import Changes
from subagents import Agent, BackgroundConfig, Budget, Status, compile_agent, observe, stream_events
from subagents.events import BaseEvent, ModelEnd, SubagentEnd
from subagents.runtime import parking
from subagents.runtime.scope import RunScope
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")

INPUT = {"messages": [HumanMessage("go")]}
gates: dict[str, asyncio.Event] = {}
LONG = 0.2
"""Work of ``t >= LONG`` seconds waits for its gate (opened by the test, or never: then it ends
when it is cancelled); shorter work ends at once. No test waits on a clock."""


@pytest.fixture(autouse=True)
def _reset_gates() -> None:
    gates.clear()


def gate(name: str) -> asyncio.Event:
    return gates.setdefault(name, asyncio.Event())


@tool
async def wait(seconds: float, name: str = "") -> str:
    """Work for some seconds (see ``LONG``)."""
    if seconds >= LONG:
        await gate(name).wait()
    return f"waited {seconds}"


def open_on_adoption(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Open gate ``name`` once a resumed run that adopted the parked children runs a node.

    From then on the adopted children's events reach that run's stream (``RunScope.relay``):
    the moment the children of the original tests, slower than the pause, went on.
    """
    node_config = RunScope.node_config

    def node_config_and_open(self: RunScope, config: Any) -> None:
        node_config(self, config)
        if self.adopted:
            gate(name).set()

    monkeypatch.setattr(RunScope, "node_config", node_config_and_open)


async def other_tasks_end(timeout: float = 5) -> None:
    """Wait until every task but this one has ended (the background children's)."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=timeout)


@tool
def ask_human(question: str) -> str:
    """Ask the human a question."""
    return str(interrupt({"question": question}))


def child_policy(messages: list[BaseMessage]) -> AIMessage:
    """Objective 't=0.2 name': wait t seconds, then answer ``ok: <objective>``."""
    objective = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
    if isinstance(messages[-1], HumanMessage):
        seconds = float(re.search(r"t=([\d.]+)", objective).group(1))  # type: ignore[union-attr]
        return ai(call("wait", seconds=seconds, name=objective))
    return ai(f"ok: {objective}")


def running_ids(messages: list[BaseMessage]) -> list[str]:
    return [json.loads(str(m.content))["id"] for m in messages
            if isinstance(m, ToolMessage) and '"running"' in str(m.content)]


def await_all(messages: list[BaseMessage]) -> AIMessage:
    return ai(call("agent_await", ids=running_ids(messages), mode="all"))


def graph_of(objectives: list[str], then: list[Any], *, checkpointer: Any,
             tools: list[Any] | None = None, config: BackgroundConfig | bool = True) -> Any:
    spawn = ai(*[call("task", agent="w", objective=o, background=True) for o in objectives])
    model = ScriptedChatModel(steps={"root": [spawn, *then]})
    worker = Agent(name="w", model=ScriptedChatModel(policy=child_policy), tools=[wait])
    root = Agent(name="root", model=model, subagents=[worker], tools=tools or [],
                 background=config)
    return compile_agent(root, checkpointer=checkpointer)


def tool_json(state: Any, name: str) -> list[dict[str, Any]]:
    return [json.loads(str(m.content)) for m in state.values["messages"]
            if isinstance(m, ToolMessage) and m.name == name]


def cfg_of(thread: str) -> tuple[Any, dict[str, Any]]:
    scope, cfg = observe({"configurable": {"thread_id": thread}})
    return scope, cfg


def children(scope: Any) -> list[Any]:
    """The background children's usage nodes of every root run seen by ``scope``."""
    return [c for run in scope.usage.children for c in run.children]


async def test_a_child_running_at_the_pause_keeps_running_and_is_awaited_after_it(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = graph_of(["t=0.3 slow"], [await_all, ai("fin")], checkpointer=async_saver)
    scope, cfg = cfg_of("slow")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])
        assert (await graph.aget_state(cfg)).next == ("lifecycle",)
        [child] = children(scope)
        assert child.status is None  # still running while the run is paused
        open_on_adoption(monkeypatch, "t=0.3 slow")  # its work ends in the resumed run
        await graph.ainvoke(None, cfg)
        done = await graph.aget_state(cfg)
    [res] = tool_json(done, "agent_await")
    assert res["status"] == "completed"
    assert res["results"][0]["result"] == "ok: t=0.3 slow"
    assert child.status == Status.COMPLETED
    assert parking.parked_count("slow") == 0


async def test_an_interrupt_in_a_tool_keeps_the_background_children(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    ask = ai(call("ask_human", question="go on?"))
    graph = graph_of(["t=0.2 a", "t=0.01 b"], [ask, await_all, ai("fin")], tools=[ask_human],
                     checkpointer=async_saver)
    _, cfg = cfg_of("ask")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg)
        paused = await graph.aget_state(cfg)
        assert paused.next == ("tools",)
        assert paused.tasks[0].interrupts
        open_on_adoption(monkeypatch, "t=0.2 a")  # "a" is still at work at the interrupt
        await graph.ainvoke(Command(resume="yes"), cfg)
        done = await graph.aget_state(cfg)
    [res] = tool_json(done, "agent_await")
    assert res["status"] == "completed"
    assert sorted(r["result"] for r in res["results"]) == ["ok: t=0.01 b", "ok: t=0.2 a"]


async def test_other_threads_do_not_see_parked_children(async_saver: Saver) -> None:
    first: list[str] = []

    def await_firsts(messages: list[BaseMessage]) -> AIMessage:
        return ai(call("agent_await", ids=first, mode="all"))

    graph = graph_of(["t=0.01 a"], [await_all, ai("fin")], checkpointer=async_saver)
    _, cfg_a = cfg_of("A")
    other = graph_of(["t=0.01 b"], [await_firsts, ai("fin")], checkpointer=async_saver)
    _, cfg_b = cfg_of("B")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg_a, interrupt_before=["lifecycle"])
        first.extend(running_ids((await graph.aget_state(cfg_a)).values["messages"]))
        await other.ainvoke(INPUT, cfg_b, interrupt_before=["lifecycle"])
        await other.ainvoke(None, cfg_b)
        [stolen] = tool_json(await other.aget_state(cfg_b), "agent_await")
        await graph.ainvoke(None, cfg_a)
        [own] = tool_json(await graph.aget_state(cfg_a), "agent_await")
    assert stolen["status"] == "failed"
    assert "belongs to another agent's run" in stolen["error"]
    assert own["status"] == "completed"
    assert own["results"][0]["result"] == "ok: t=0.01 a"


async def test_a_run_that_completes_still_auto_cancels(async_saver: Saver) -> None:
    graph = graph_of(["t=5 orphan"], [ai("done without waiting")], checkpointer=async_saver)
    scope, cfg = cfg_of("done")
    async with asyncio.timeout(3):
        await graph.ainvoke(INPUT, cfg)
    [child] = children(scope)
    assert child.status == Status.CANCELLED
    assert parking.parked_count("done") == 0
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_a_failed_run_still_auto_cancels(async_saver: Saver) -> None:
    def boom(messages: list[BaseMessage]) -> AIMessage:
        raise RuntimeError("model down")

    graph = graph_of(["t=5 orphan"], [boom], checkpointer=async_saver)
    scope, cfg = cfg_of("failed")
    async with asyncio.timeout(3):
        with pytest.raises(RuntimeError, match="model down"):
            await graph.ainvoke(INPUT, cfg)
    [child] = children(scope)
    assert child.status == Status.CANCELLED
    assert parking.parked_count("failed") == 0


async def test_parked_children_expire_and_are_cancelled(async_saver: Saver) -> None:
    graph = graph_of(["t=5 forgotten"], [await_all, ai("fin")],
                     config=BackgroundConfig(park_ttl=0.1), checkpointer=async_saver)
    scope, cfg = cfg_of("expire")
    async with asyncio.timeout(5):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])
        assert parking.parked_count("expire") == 1
        [child] = children(scope)
        await other_tasks_end()  # park_ttl's expiry cancels the child's task
        assert parking.parked_count("expire") == 0
        assert child.status == Status.CANCELLED
        await graph.ainvoke(None, cfg)  # the resume finds no children left
        [res] = tool_json(await graph.aget_state(cfg), "agent_await")
    assert res["status"] == "unknown_id" and res["reason"] == "expired"
    assert "is gone" in res["error"] and "expired" in res["error"]
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_a_nested_agent_paused_by_interrupt_keeps_its_children(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key holds the nested agent's checkpoint_ns, which LangGraph keeps on resume."""
    model = ScriptedChatModel(steps={
        "root": [ai(call("task", agent="mid", objective="work")),
                 lambda msgs: ai(f"fin: {msgs[-1].content}")],
        "mid": [ai(call("task", agent="w", objective="t=0.2 deep", background=True)),
                ai(call("ask_human", question="go on?")), await_all,
                lambda msgs: ai(f"mid: {msgs[-1].content}")]})
    worker = Agent(name="w", model=ScriptedChatModel(policy=child_policy), tools=[wait])
    mid = Agent(name="mid", subagents=[worker], tools=[ask_human], background=True)
    root = Agent(name="root", model=model, subagents=[mid], max_subagent_depth=2)
    graph = compile_agent(root, checkpointer=async_saver)
    _, cfg = cfg_of("nested")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg)
        assert (await graph.aget_state(cfg)).next == ("mid",)
        assert parking.parked_count("nested") == 1
        open_on_adoption(monkeypatch, "t=0.2 deep")
        await graph.ainvoke(Command(resume="yes"), cfg)
        done = await graph.aget_state(cfg)
    final = str(done.values["messages"][-1].content)
    assert '"status": "completed"' in final or '\\"status\\": \\"completed\\"' in final
    assert "ok: t=0.2 deep" in final
    assert parking.parked_count("nested") == 0


# After a resume the adopted children belong to the resumed run: its listeners, its stream,
# its usage tree and its budget (the paused run is over).


def ends_of(events: list[BaseEvent]) -> dict[str, SubagentEnd]:
    return {e.tool_call_id or "": e for e in events if isinstance(e, SubagentEnd)}


async def test_the_resumed_run_hears_the_adopted_children(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = graph_of(["t=0.3 slow", "t=0 fast"], [await_all, ai("fin")], checkpointer=async_saver)
    first: list[BaseEvent] = []
    heard = Changes()

    def hear(event: BaseEvent) -> None:
        first.append(event)
        heard.notify()

    _, cfg1 = observe({"configurable": {"thread_id": "events"}}, on_event=hear)
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg1, interrupt_before=["lifecycle"])
        await heard.until(lambda: len(ends_of(first)) == 1, what="the fast child's end")
        paused_ends = ends_of(first)
        open_on_adoption(monkeypatch, "t=0.3 slow")
        second = [e async for e in stream_events(graph, None, cfg1)]
    assert len(paused_ends) == 1  # the fast child ended while the first run was on
    [(fast_id, fast)] = paused_ends.items()
    assert fast.status is Status.COMPLETED
    ends = ends_of(second)
    [(slow_id, slow)] = ends.items()
    assert slow_id != fast_id
    assert slow.path == ["root", "w"]
    assert slow.status is Status.COMPLETED
    assert slow.result == "ok: t=0.3 slow"
    assert slow.usage["model_calls"] == 2
    inner = [e for e in second if isinstance(e, ModelEnd) and e.path == ["root", "w"]]
    assert [e.tool_call_id for e in inner] == [slow_id]  # its call after the wait
    assert len(ends_of(first)) == 1  # nothing more reached the paused run's listeners


async def test_the_resumed_run_streams_the_adopted_childs_events(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = graph_of(["t=0.3 slow"], [await_all, ai("fin")], checkpointer=async_saver)
    _, cfg = cfg_of("custom")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])
        open_on_adoption(monkeypatch, "t=0.3 slow")
        chunks = [chunk async for chunk in graph.astream(None, cfg, stream_mode="custom",
                                                         subgraphs=True)]
    kinds = [(list(ns), c["type"], c["path"]) for ns, c in chunks]
    assert ((), "subagent_end", ["root", "w"]) in [(tuple(n), k, p) for n, k, p in kinds]
    assert any(k == "model_end" and p == ["root", "w"] for _, k, p in kinds)


async def test_the_resumed_runs_usage_holds_the_adopted_children_once(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = graph_of(["t=0.3 slow", "t=0 fast"], [await_all, ai("fin")], checkpointer=async_saver)
    events: list[BaseEvent] = []
    heard = Changes()

    def hear(event: BaseEvent) -> None:
        events.append(event)
        heard.notify()

    scope, cfg = observe({"configurable": {"thread_id": "usage"}}, on_event=hear)
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])
        await heard.until(lambda: len(ends_of(events)) == 1, what="the fast child's end")
        open_on_adoption(monkeypatch, "t=0.3 slow")
        out = await graph.ainvoke(None, cfg)
    usage = out["usage"]
    assert usage["model_calls"] == 1  # the resumed run's own call: "fin"
    assert [c["model_calls"] for c in usage["children"]] == [2, 2]
    assert {c["status"] for c in usage["children"]} == {"completed"}
    assert usage["totals"]["model_calls"] == 5
    paused, resumed = scope.usage.children
    assert paused.children == []  # moved, not copied: an observer of both counts them once
    assert len(resumed.children) == 2
    assert scope.usage.totals()["model_calls"] == 2 + 5


def looping_child(messages: list[BaseMessage]) -> AIMessage:
    """Objective 't=0.3 n=9': wait t seconds, then n more short waits, then answer."""
    objective = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
    done = sum(isinstance(m, ToolMessage) for m in messages)
    seconds = float(re.search(r"t=([\d.]+)", objective).group(1))  # type: ignore[union-attr]
    rounds = int(re.search(r"n=(\d+)", objective).group(1))  # type: ignore[union-attr]
    if done <= rounds:
        return ai(call("wait", seconds=seconds if done == 0 else done / 1000, name=objective))
    return ai("ok")


# On every saver: a child's call may land after the root's last checkpoint of the paused run
# (SQLite and Postgres are slower than memory); the resumed run that adopts the paused run's
# table goes on from the paused run's live counters, never fewer than its checkpoint holds.
@pytest.mark.savers("memory", "sqlite", "postgres")
async def test_the_adopted_childs_calls_draw_from_the_resumed_runs_budget(
        async_saver: Saver, monkeypatch: pytest.MonkeyPatch) -> None:
    spawn = ai(call("task", agent="w", objective="t=0.3 n=9", background=True))
    model = ScriptedChatModel(steps={"root": [spawn, await_all, ai("fin")]})
    worker = Agent(name="w", model=ScriptedChatModel(policy=looping_child), tools=[wait])
    root = Agent(name="root", model=model, subagents=[worker], background=True,
                 budget=Budget(max_model_calls=4))
    graph = compile_agent(root, checkpointer=async_saver)
    _, cfg = cfg_of("budget")
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])  # 3 of its 4 calls
        open_on_adoption(monkeypatch, "t=0.3 n=9")  # its first wait ends in the resumed run
        out = await graph.ainvoke(None, cfg)
    usage = out["usage"]
    [child] = usage["children"]
    # 1 call in the paused run, then the resumed run goes on from the 3 calls its checkpoint
    # holds: 1 more, and the child ends over budget, and so does the root (its "fin" call is
    # not made): 4 calls over both runs
    assert child["model_calls"] == 1 + 1
    assert child["status"] == "over_budget"
    assert usage["model_calls"] == 0
    assert usage["status"] == "over_budget"
    assert usage["totals"]["model_calls"] == 2
    assert len(model.calls) + len(worker.model.calls) == 4  # type: ignore[union-attr]
