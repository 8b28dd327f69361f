"""A remote graph that is no subagents graph: its events, usage and budget in the local tree.

The server (``langgraph dev`` on a free port) serves the repository's graphs plus ``helper``,
a ``create_agent`` graph written by this module: it calls its ``lookup`` tool twice, then
answers (3 model calls, 2 tool calls). The local ``boss`` delegates to it with
``Agent.from_remote``; the foreign graph writes no events of ours, so the remote child reads
its ``updates`` stream (``subgraphs/_remote_events.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from _server import DevServer, demo_server, task_then_echo
from subagents import Agent, Budget, DelegationResult, Status, compile_agent, observe
from subagents.events import BaseEvent
from subagents.testing import ScriptedChatModel

pytestmark = pytest.mark.server

HELPER = '''
"""A create_agent graph for tests/test_remote_foreign.py."""
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from subagents.testing import ScriptedChatModel


@tool
def lookup(word: str) -> str:
    """Look a word up."""
    return f"{word} means x"


def _policy(messages, agent):
    done = sum(isinstance(m, ToolMessage) for m in messages)
    if done < 2:
        return AIMessage(content="", tool_calls=[
            {"name": "lookup", "args": {"word": f"w{done}"}, "id": f"c{done}",
             "type": "tool_call"}])
    return AIMessage(content="found it")


helper = create_agent(ScriptedChatModel(policy=_policy), tools=[lookup], name="helper")
'''
CALL = "call_foreign"
LOCAL = ["boss", "helper"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    workdir: Path = tmp_path_factory.mktemp("remote-foreign-dev")
    (workdir / "helper_graph.py").write_text(HELPER)
    with demo_server(workdir, {"helper": f"{workdir / 'helper_graph.py'}:helper"}) as srv:
        yield srv


boss_policy = task_then_echo(lambda: CALL)


def boss(server: DevServer, graph_id: str, budget: Budget | None = None) -> Any:
    child = Agent.from_remote(server.url, graph_id, name=graph_id,
                              description="A remote graph.", timeout=30)
    return compile_agent(Agent(name="boss", model=ScriptedChatModel(policy=boss_policy),
                               subagents=[child], budget=budget))


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


def delegation(out: dict[str, Any]) -> DelegationResult:
    msg = [m for m in out["messages"] if isinstance(m, ToolMessage)][-1]
    return DelegationResult.from_message(msg)


def check_helper_tree(events: list[BaseEvent], usage: dict[str, Any]) -> None:
    """The helper's replies and tool calls as events at its local path, counted once."""
    kinds = [(e.type, e.path) for e in events]
    start, end = kinds.index(("subagent_start", LOCAL)), kinds.index(("subagent_end", LOCAL))
    inner = [e for e in events[start + 1:end] if e.path == LOCAL]
    assert [e.type for e in inner] == [
        "model_start", "model_end", "tool_start", "tool_end",
        "model_start", "model_end", "tool_start", "tool_end",
        "model_start", "model_end"]
    assert all(e.agent == "helper" and e.tool_call_id == CALL for e in inner)
    tools = [e for e in inner if e.type in ("tool_start", "tool_end")]
    assert {getattr(e, "name", None) for e in tools} == {"lookup"}
    assert [getattr(e, "call_id", None) for e in tools] == ["c0", "c0", "c1", "c1"]
    assert getattr(inner[3], "content", None) == "w0 means x"
    assert getattr(inner[-1], "text", None) == "found it"
    ends = [e for e in inner if e.type == "model_end"]
    (child,) = usage["children"]
    assert child["path"] == LOCAL and child["status"] == "completed"
    assert (child["model_calls"], child["tool_calls"]) == (3, 2)  # once, not also from state
    assert child["input_tokens"] == sum(getattr(e, "usage", {})["input_tokens"] for e in ends)


async def test_foreign_remote_graph_events_and_usage(server: DevServer) -> None:
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = await boss(server, "helper").ainvoke(ask("helper: find w"), cfg)
    assert delegation(out).result == "found it"
    check_helper_tree(events, out["usage"])


def test_foreign_remote_graph_events_sync(server: DevServer) -> None:
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = boss(server, "helper").invoke(ask("helper: find w"), cfg)
    assert delegation(out).result == "found it"
    check_helper_tree(events, out["usage"])


async def test_remote_model_calls_count_against_the_local_budget(server: DevServer) -> None:
    """boss 1 + helper 3 = 4 calls: the helper finishes, boss's next call is refused."""
    out = await boss(server, "helper", Budget(max_model_calls=4)).ainvoke(
        ask("helper: find w"))
    assert delegation(out).status == Status.COMPLETED
    assert str(out["messages"][-1].content).startswith(
        "Stopped: budget exhausted: max_model_calls=4")
    roomy = await boss(server, "helper", Budget(max_model_calls=5)).ainvoke(
        ask("helper: find w"))
    assert str(roomy["messages"][-1].content).startswith("boss got: ")


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_foreign_remote_graph_past_the_budget_ends_over_budget(
        server: DevServer, mode: str) -> None:
    """boss 1 + the helper's first reply (asking for a tool) = 2: the remote run stops."""
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    graph = boss(server, "helper", Budget(max_model_calls=2))
    out = (asyncio.run(graph.ainvoke(ask("helper: find w"), cfg)) if mode == "async"
           else graph.invoke(ask("helper: find w"), cfg))
    result = delegation(out)
    assert result.status == Status.OVER_BUDGET, result
    assert result.error == "budget exhausted: max_model_calls=2 (used 2)"
    helper_ends = [e for e in events if e.type == "model_end" and e.path == LOCAL]
    assert len(helper_ends) == 1  # nothing relayed after the stop
    assert out["usage"]["children"][0]["status"] == "over_budget"


async def test_a_subagents_remote_graph_past_the_budget_ends_over_budget(
        server: DevServer) -> None:
    """The research team's model calls (its sub-agents' too) are charged as they stream."""
    out = await boss(server, "research", Budget(max_model_calls=3)).ainvoke(
        ask("research: alpha, beta"))
    result = delegation(out)
    assert result.status == Status.OVER_BUDGET, result
    assert result.error is not None and "max_model_calls=3" in result.error
