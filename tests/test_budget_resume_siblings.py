"""A budget resumed after a pause counts the sibling delegations that finished before it.

The ordinary thing: a root under a ``Budget`` delegates to two children in parallel; one
finishes, the other asks a human (``interrupt()``). The finished child's write waits in the
checkpoint's pending writes, not in its counters, so the resumed run used to start without
that child's model calls, tool rounds and tokens. The resumed run must end with the counters
of the run that did not pause.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from _pausing import note_and_ask
from subagents import Agent, Budget, DelegationResult, Status, compile_agent, observe
from subagents.runtime.scope import SPENT_METADATA
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]
pytestmark = pytest.mark.savers("memory", "sqlite", "postgres")


def one_tool_then(answer: str, tool_name: str) -> Any:
    """A child model: one call to ``tool_name``, then ``answer``."""

    def policy(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return ai(answer)
        return ai(call(tool_name, q="?"))

    return policy


def team(pause: bool, limit: int = 100) -> Agent:
    note, ask = note_and_ask(pause)
    fast = Agent(name="fast", model=ScriptedChatModel(policy=one_tool_then("a", "note")),
                 tools=[note])
    asking = Agent(name="asking", model=ScriptedChatModel(policy=one_tool_then("b", "ask")),
                   tools=[ask])
    root_model = ScriptedChatModel(steps={"root": [
        ai(call("task", agent="fast", objective="x"), call("task", agent="asking", objective="y")),
        ai("fin"), ai("more")]})
    return Agent(name="root", model=root_model, subagents=[fast, asking],
                 budget=Budget(max_model_calls=limit))


def statuses(out: dict[str, Any]) -> list[Status]:
    return [DelegationResult.from_message(m).status for m in out["messages"]
            if isinstance(m, ToolMessage) and m.name == "task"]


async def test_a_resumed_run_counts_a_sibling_that_finished_before_the_pause(
        async_saver: Saver) -> None:
    ends = []
    for pause in (False, True):
        graph = compile_agent(team(pause), checkpointer=async_saver)
        cfg = {"configurable": {"thread_id": f"siblings-{pause}"}}
        scope, run = observe(cfg)
        out = await graph.ainvoke({"messages": [HumanMessage("go")]}, run)
        if pause:
            assert "__interrupt__" in out
            scope, run = observe(cfg)
            out = await graph.ainvoke(Command(resume="yes"), run)
        ends.append((dict(scope.spent), statuses(out), out["messages"][-1].content))
    assert ends[0] == ends[1]
    assert ends[1][0]["model_calls"] == 6 and ends[1][0]["tool_rounds"] == 3


def test_sync_runs_count_it_too_and_the_limit_holds(saver: Saver) -> None:
    """At a limit of 6 calls, the resumed root's last call is refused as in the unpaused run."""
    ends = []
    for pause in (False, True):
        graph = compile_agent(team(pause, limit=5), checkpointer=saver)
        cfg = {"configurable": {"thread_id": f"siblings-sync-{pause}"}}
        scope, run = observe(cfg)
        out = graph.invoke({"messages": [HumanMessage("go")]}, run)
        if pause:
            scope, run = observe(cfg)
            out = graph.invoke(Command(resume="yes"), run)
        ends.append((dict(scope.spent), out["messages"][-1].content))
    assert ends[0] == ends[1]
    assert "budget exhausted" in str(ends[1][1])


def test_the_spending_rides_on_the_delegations_message_only_under_a_budget() -> None:
    out = compile_agent(team(False)).invoke({"messages": [HumanMessage("go")]})
    spent = [m.response_metadata.get(SPENT_METADATA) for m in out["messages"]
             if isinstance(m, ToolMessage) and m.name == "task"]
    assert [s["model_calls"] if s else None for s in spent] == [2, 2]
    free = team(False).model_copy(update={"budget": None})
    out = compile_agent(free).invoke({"messages": [HumanMessage("go")]})
    assert all(SPENT_METADATA not in m.response_metadata for m in out["messages"]
               if isinstance(m, ToolMessage))


async def test_a_nested_agent_resumed_counts_its_finished_delegations(async_saver: Saver) -> None:
    """root -> mid -> (fast, asking): mid's finished delegation counts in the root's budget."""
    ends = []
    for pause in (False, True):
        mid_model = ScriptedChatModel(steps={"mid": [
            ai(call("task", agent="fast", objective="x"),
               call("task", agent="asking", objective="y")), ai("mid done")]})
        mid = team(pause).model_copy(update={"name": "mid", "budget": None, "model": mid_model})
        root_model = ScriptedChatModel(steps={"root": [
            ai(call("task", agent="mid", objective="z")), ai("fin")]})
        root = Agent(name="root", model=root_model, subagents=[mid], max_subagent_depth=2,
                     budget=Budget(max_model_calls=100))
        graph = compile_agent(root, checkpointer=async_saver)
        cfg = {"configurable": {"thread_id": f"siblings-nested-{pause}"}}
        scope, run = observe(cfg)
        out = await graph.ainvoke({"messages": [HumanMessage("go")]}, run)
        if pause:
            scope, run = observe(cfg)
            out = await graph.ainvoke(Command(resume="yes"), run)
        ends.append((dict(scope.spent), out["messages"][-1].content))
    assert ends[0] == ends[1] and ends[1][0]["model_calls"] == 8
