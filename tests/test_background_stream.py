"""Background children persisted by default: their stream and state under the parent's run.

On a checkpointer thread a background child runs on its own thread (``<thread>/bg/<call>``);
its stream parts still reach the parent's stream (``subgraphs=True``) under the namespace
``<node>:<tool_call_id>``, where ``get_state`` of the parent's thread reads the child's
thread. ``persist=False`` (or no checkpointer thread) keeps children inside the parent's run.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from subagents import Agent, BackgroundConfig, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

GO = {"messages": [HumanMessage("go")]}


def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    if agent == "w":
        return ai("child answer")
    results = [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return ai(call("task", agent="w", objective="x", background=True))
    return ai(call("agent_await", ids=[results[0]["id"]])) if len(results) == 1 else ai("end")


def graph_of(checkpointer: Any = None, **background: Any) -> Any:
    root = Agent(name="root", model=ScriptedChatModel(policy=policy),
                 subagents=[Agent(name="w")], background=BackgroundConfig(**background))
    return compile_agent(root, checkpointer=checkpointer)


async def stream(graph: Any, thread: str | None) -> list[tuple[tuple[str, ...], str, Any]]:
    cfg = {"configurable": {"thread_id": thread}} if thread else {}
    async with asyncio.timeout(10):
        return [(ns, mode, chunk) async for ns, mode, chunk in graph.astream(
            GO, cfg, stream_mode=["updates", "messages", "custom"], subgraphs=True)]


def started_call(parts: list[tuple[tuple[str, ...], str, Any]]) -> str:
    """The tool call id of the root's background child ``w``."""
    [start] = [c for _, mode, c in parts if mode == "custom" and c["type"] == "subagent_start"
               and c["path"] == ["root", "w"]]
    return str(start["tool_call_id"])


async def test_a_persisted_childs_parts_reach_the_parents_stream_under_its_namespace() -> None:
    graph = graph_of(InMemorySaver())
    parts = await stream(graph, "t1")
    child_ns = (f"w:{started_call(parts)}",)
    by_ns: dict[tuple[str, ...], set[str]] = {}
    for ns, mode, _ in parts:
        by_ns.setdefault(ns, set()).add(mode)
    assert set(by_ns) == {(), child_ns}
    assert by_ns[child_ns] == {"updates", "messages", "custom"}
    child_updates = [c for ns, mode, c in parts if ns == child_ns and mode == "updates"]
    assert [list(c) for c in child_updates] == [["model"]]
    [(message, meta)] = [c for ns, mode, c in parts if ns == child_ns and mode == "messages"]
    assert message.content == "child answer" and meta["langgraph_node"] == "model"
    child_events = {c["type"] for ns, mode, c in parts if ns == child_ns and mode == "custom"}
    assert {"model_start", "model_end"} <= child_events
    root_nodes = {key for ns, mode, c in parts if ns == () and mode == "updates" for key in c}
    assert root_nodes <= {"model", "w", "lifecycle"}  # the child's nodes stay under its own


async def test_get_state_at_the_childs_namespace_reads_its_own_thread() -> None:
    graph = graph_of(InMemorySaver())
    parts = await stream(graph, "t2")
    tool_call_id = started_call(parts)
    at_ns = await graph.aget_state({"configurable": {"thread_id": "t2",
                                                     "checkpoint_ns": f"w:{tool_call_id}"}})
    own = await graph.aget_state({"configurable": {"thread_id": f"t2/bg/{tool_call_id}"}})
    assert [m.content for m in at_ns.values["messages"]] == ["x", "child answer"]
    assert at_ns.values == own.values and at_ns.config == own.config
    synced = graph.get_state({"configurable": {"thread_id": "t2",
                                               "checkpoint_ns": f"w:{tool_call_id}"}})
    assert synced.values == own.values
    [record] = (await graph.aget_state({"configurable": {"thread_id": "t2"}})
                ).values["background"].values()
    assert record["thread_id"] == f"t2/bg/{tool_call_id}" and record["status"] == "completed"


async def test_get_state_history_at_the_childs_namespace_reads_its_own_thread() -> None:
    graph = graph_of(InMemorySaver())
    tool_call_id = started_call(await stream(graph, "t3"))
    at_ns = {"configurable": {"thread_id": "t3", "checkpoint_ns": f"w:{tool_call_id}"}}
    own = {"configurable": {"thread_id": f"t3/bg/{tool_call_id}"}}
    expected = [s.config for s in graph.get_state_history(own)]
    assert len(expected) >= 2
    assert [s.config for s in graph.get_state_history(at_ns)] == expected
    assert [s.config async for s in graph.aget_state_history(at_ns)] == expected
    assert [s.config for s in graph.get_state_history(at_ns, limit=1)] == expected[:1]
    assert [s.config async for s in graph.aget_state_history(
        at_ns, before=expected[0])] == expected[1:]
    root = [s.config for s in graph.get_state_history({"configurable": {"thread_id": "t3"}})]
    assert root and not set(map(str, root)) & set(map(str, expected))  # the root's own


@pytest.mark.parametrize("persist", [None, True])
async def test_persist_none_and_true_are_the_same_on_a_thread(persist: bool | None) -> None:
    graph = graph_of(InMemorySaver(), persist=persist)
    out = await graph.ainvoke(GO, {"configurable": {"thread_id": f"same-{persist}"}})
    [record] = out["background"].values()
    assert record["thread_id"].startswith(f"same-{persist}/bg/")


async def test_persist_false_keeps_children_inside_the_parents_run() -> None:
    saver = InMemorySaver()
    parts = await stream(graph_of(saver, persist=False), "t3")
    tool_call_id = started_call(parts)
    inner = {ns for ns, _, _ in parts if ns}
    assert inner and all(ns[0].startswith("w:") and tool_call_id not in ns[0] for ns in inner)
    assert not [t for t in saver.storage if t.startswith("t3/bg/")]
    state = await graph_of(saver, persist=False).aget_state({"configurable": {"thread_id": "t3"}})
    assert "background" not in state.values


async def test_without_a_checkpointer_children_live_in_the_process() -> None:
    out = await graph_of().ainvoke(GO)
    assert out["messages"][-1].content == "end"
    assert "background" not in out
    awaited = json.loads(str(out["messages"][-2].content))
    assert [r["result"] for r in awaited["results"]] == ["child answer"]


async def test_a_sync_grandchilds_state_is_read_below_the_childs_namespace() -> None:
    def nested(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        if agent == "g":
            return ai("grandchild answer")
        if agent == "w":
            done = isinstance(messages[-1], ToolMessage)
            return ai("child answer") if done else ai(call("task", agent="g", objective="y"))
        return policy(messages, agent)

    w = Agent(name="w", subagents=[Agent(name="g")])
    root = Agent(name="root", model=ScriptedChatModel(policy=nested), subagents=[w],
                 background=True, max_subagent_depth=2)
    graph = compile_agent(root, checkpointer=InMemorySaver())
    parts = await stream(graph, "t4")
    child_ns = (f"w:{started_call(parts)}",)
    [inner] = {ns for ns, mode, _ in parts if len(ns) == 2 and ns[0] == child_ns[0]}
    assert inner[1].rpartition(":")[0].endswith("g")  # the delegation node of g in w
    state = await graph.aget_state({"configurable": {"thread_id": "t4",
                                                     "checkpoint_ns": "|".join(inner)}})
    assert [m.content for m in state.values["messages"]] == ["y", "grandchild answer"]


async def test_a_persisted_childs_trace_names_its_tool_call() -> None:
    class Starts(BaseCallbackHandler):
        def __init__(self) -> None:
            self.metadata: list[dict[str, Any]] = []

        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            self.metadata.append(dict(kwargs.get("metadata") or {}))

    starts = Starts()
    graph = graph_of(InMemorySaver())
    out = await graph.ainvoke(GO, {"configurable": {"thread_id": "t5"}, "callbacks": [starts]})
    [record] = out["background"].values()
    child = [m for m in starts.metadata if m.get("lc_agent_name") == "w"]
    assert child and {m.get("subagents_tool_call_id") for m in child} == {record["tool_call_id"]}
    assert {tuple(m["subagents_path"]) for m in child} == {("root", "w")}
