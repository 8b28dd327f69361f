"""A remote sub-agent's events and usage in the local run's one tree.

The server (``langgraph dev`` on a free port) serves the repository's ``research`` graph:
its root ``lead`` starts two background ``researcher`` children (each calls the
``slow_lookup`` tool), awaits them and has the ``critic`` review: 4 model calls of its own,
9 in all. The local ``boss`` delegates to it as the remote sub-agent ``research``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolCall
from langgraph.pregel.remote import RemoteGraph

from _server import DevServer, demo_server
from subagents import Agent, compile_agent, observe, stream_events
from subagents.events import BaseEvent
from subagents.runtime.scope import RunScope
from subagents.subgraphs._remote_events import Relay, attach_usage
from subagents.testing import ScriptedChatModel, ai

CALL = "call_remote_events"
LOCAL = ["boss", "research"]
REMOTE_OWN_CALLS = 4
REMOTE_TOTAL_CALLS = 9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with demo_server(tmp_path_factory.mktemp("remote-events-dev")) as srv:
        yield srv


def boss_policy(messages: list[Any], agent: str | None) -> AIMessage:
    last = messages[-1]
    if isinstance(last, HumanMessage):
        tc = ToolCall(name="task", args={"agent": "research", "objective": str(last.content)},
                      id=CALL, type="tool_call")
        return AIMessage(content="", tool_calls=[tc])
    return ai(f"boss got: {last.content}")


def boss_graph(server: DevServer) -> Any:
    research = Agent.from_remote(server.url, "research", name="research",
                                 description="Remote research.", timeout=30)
    return compile_agent(Agent(name="boss", model=ScriptedChatModel(policy=boss_policy),
                               subagents=[research]))


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


def check_tree(events: list[BaseEvent]) -> None:
    """The remote agent's events sit, rebased, between its local start and end."""
    kinds = [(e.type, e.path) for e in events]
    start = kinds.index(("subagent_start", LOCAL))
    end = kinds.index(("subagent_end", LOCAL))
    inner = events[start + 1:end]
    assert all(e.path[:2] == LOCAL for e in inner), [e.path for e in inner]
    outside = events[:start] + events[end + 1:]
    assert not [e for e in outside if e.path[:2] == LOCAL and e.type not in (
        "subagent_start", "subagent_end")]
    own = [e for e in inner if e.path == LOCAL]
    assert [e.type for e in own if e.type == "model_end"] == ["model_end"] * REMOTE_OWN_CALLS
    assert all(e.agent == "research" and e.tool_call_id == CALL for e in own)
    researcher = [*LOCAL, "researcher"]
    starts = [e for e in inner if e.type == "subagent_start" and e.path == researcher]
    ends = [e for e in inner if e.type == "subagent_end" and e.path == researcher]
    assert len(starts) == len(ends) == 2
    assert all(e.agent == "researcher" and e.tool_call_id not in (None, CALL) for e in starts)
    tools = [e for e in inner if e.type in ("tool_start", "tool_end")]
    assert {(e.type, getattr(e, "name", None)) for e in tools} == {
        ("tool_start", "slow_lookup"), ("tool_end", "slow_lookup")}
    assert all(e.path == researcher for e in tools)
    assert any(e.path == [*LOCAL, "critic"] and e.type == "model_end" for e in inner)
    for e in ends:  # nested usage dicts are rebased too
        assert e.usage["path"] == researcher
    (done,) = [e for e in events if e.type == "subagent_end" and e.path == LOCAL]
    assert done.usage["model_calls"] == REMOTE_OWN_CALLS
    assert done.usage["totals"]["model_calls"] == REMOTE_TOTAL_CALLS
    assert {tuple(c["path"]) for c in done.usage["children"]} == {
        ("boss", "research", "researcher"), ("boss", "research", "critic")}


def check_usage(usage: dict[str, Any]) -> None:
    (child,) = usage["children"]
    assert child["path"] == LOCAL and child["tool_call_id"] == CALL
    assert child["model_calls"] == REMOTE_OWN_CALLS
    assert child["totals"]["model_calls"] == REMOTE_TOTAL_CALLS
    assert child["status"] == "completed"
    assert usage["totals"]["model_calls"] == usage["model_calls"] + REMOTE_TOTAL_CALLS
    assert usage["totals"]["input_tokens"] > usage["input_tokens"] + child["input_tokens"]


@pytest.mark.server
async def test_observe_sees_the_remote_tree_and_usage(server: DevServer) -> None:
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = await boss_graph(server).ainvoke(ask("alpha, beta"), cfg)
    assert out["messages"][-1].content.startswith("boss got: ")
    check_tree(events)
    check_usage(out["usage"])


@pytest.mark.server
async def test_stream_events_and_local_custom_stream(server: DevServer) -> None:
    graph = boss_graph(server)
    events = [e async for e in stream_events(graph, ask("alpha, beta"))]
    check_tree(events)
    chunks = [(ns, data) async for ns, data in graph.astream(
        ask("gamma, delta"), stream_mode="custom", subgraphs=True)]
    streamed = [BaseEvent.model_validate(d) for _, d in chunks]
    paths = {tuple(e.path) for e in streamed}
    assert {("boss",), ("boss", "research"), ("boss", "research", "researcher"),
            ("boss", "research", "critic")} <= paths
    nested = [ns for ns, d in chunks if d["path"] == [*LOCAL, "researcher"]
              and d["type"] == "model_end"]
    assert nested and all(ns[0].startswith("research:") and len(ns) >= 2 for ns in nested)


@pytest.mark.server
def test_sync_run_relays_events(server: DevServer) -> None:
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = boss_graph(server).invoke(ask("epsilon"), cfg)
    (child,) = out["usage"]["children"]
    assert child["model_calls"] == REMOTE_OWN_CALLS
    assert child["totals"]["model_calls"] == REMOTE_OWN_CALLS + 2 + 1  # researcher, critic
    assert any(e.path == [*LOCAL, "researcher"] and e.type == "tool_end" for e in events)


@pytest.mark.server
async def test_without_listeners_no_custom_stream_but_usage(
        server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[Any] = []
    original = RemoteGraph.astream

    def spy(self: RemoteGraph, *args: Any, **kwargs: Any) -> Any:
        modes.append(kwargs.get("stream_mode"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RemoteGraph, "astream", spy)
    out = await boss_graph(server).ainvoke(ask("alpha, beta"))
    assert modes == ["values"]  # RemoteGraph.ainvoke, as before: no custom stream
    check_usage(out["usage"])
    modes.clear()
    await boss_graph(server).ainvoke(ask("alpha"), observe(on_event=lambda e: None)[1])
    assert modes == ["custom"]


def test_malformed_chunks_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BaseEvent] = []
    root = RunScope(agent="boss", path=("boss",), parent=None, call=None, budget=None,
                    background=None)
    root.sinks.append(seen.append)
    root.listening = True
    child = RunScope(agent="research", path=("boss", "research"), parent=root, call=None,
                     budget=None, background=None)
    relay = Relay(child, None)
    with caplog.at_level(logging.WARNING, logger="subagents"):
        relay.part(((), {"type": "no_such_event", "path": ["lead"], "agent": "lead"}))
        relay.part(((), {"type": "model_start", "path": [], "agent": "lead", "messages": 1}))
        relay.part("not even a dict")
        relay.part((("researcher:1",), {"type": "model_start", "path": ["lead", "researcher"],
                                         "agent": "researcher", "messages": 2}))
    assert [(e.type, e.path) for e in seen] == [
        ("model_start", ["boss", "research", "researcher"])]
    assert relay.count == 1
    assert len([r for r in caplog.records if "skipped" in r.message]) == 3
    attach_usage(child, {"usage": "garbage"})
    attach_usage(child, {"usage": {"model_calls": "x"}})
    assert child.usage.model_calls == 0


def test_a_foreign_remote_graph_usage_is_read_from_its_messages() -> None:
    """A remote graph that writes no ``usage`` (a ``create_agent`` graph): its AI messages."""
    parent = RunScope(agent="boss", path=("boss",), parent=None, call=None, budget=None,
                      background=None)
    child = RunScope(agent="research", path=(*LOCAL,), parent=parent, call=None,
                     budget=None, background=None)
    reply = AIMessage(content="", tool_calls=[ToolCall(name="lookup", args={}, id="c1")],
                      usage_metadata={"input_tokens": 10, "output_tokens": 2,
                                      "total_tokens": 12})
    final = AIMessage(content="done", usage_metadata={"input_tokens": 20, "output_tokens": 5,
                                                      "total_tokens": 25})
    attach_usage(child, {"messages": [HumanMessage("task"), reply, final]})
    node = child.usage
    assert (node.model_calls, node.input_tokens, node.output_tokens, node.tool_calls) == (
        2, 30, 7, 1)
    assert parent.usage.totals()["model_calls"] == 2
