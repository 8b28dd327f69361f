"""The remote child's one step, driven sync (``invoke``) and async (``ainvoke``) alike;
a foreign remote graph's ``updates`` read into events, usage and budget charges.

No server: a stand-in for ``RemoteGraph`` (its state, runs and SDK clients in memory)
records what the step asks for, so both drivers can be held to the same sequence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import StateSnapshot

from subagents import Agent, Budget
from subagents.checkpoints.threads import task_message_id
from subagents.runtime.call import CALL_KEY, CallInfo
from subagents.runtime.scope import RunScope
from subagents.subgraphs._remote_events import Relay, RemoteOverBudget
from subagents.subgraphs._remote_io import plan
from subagents.subgraphs.remote import RemoteAgentError, RemoteChild, RemoteSpec

CALL = "call_step"


class Runs:
    """``client.runs``: sync and async methods share one record."""

    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph

    def list(self, thread_id: str, limit: int = 10) -> list[dict[str, Any]]:
        self.graph.calls.append("list")
        return [{"run_id": "r1", "status": self.graph.run_status}]

    def join(self, thread_id: str, run_id: str) -> None:
        self.graph.calls.append("join")
        self.graph.finish()

    def cancel(self, thread_id: str, run_id: str, action: str = "") -> None:
        self.graph.calls.append(f"cancel:{action}")


class AsyncRuns(Runs):
    async def list(self, thread_id: str, limit: int = 10) -> list[dict[str, Any]]:  # type: ignore[override]
        return super().list(thread_id, limit)

    async def join(self, thread_id: str, run_id: str) -> None:  # type: ignore[override]
        super().join(thread_id, run_id)

    async def cancel(self, thread_id: str, run_id: str, action: str = "") -> None:  # type: ignore[override]
        super().cancel(thread_id, run_id, action)


class Client:
    def __init__(self, runs: Runs) -> None:
        self.runs = runs


class FakeGraph:
    """What the step uses of ``RemoteGraph``: state reads, runs, the two clients."""

    assistant_id = "fake"

    def __init__(self, *, hang: bool = False) -> None:
        self.calls: list[str] = []
        self.messages: list[Any] = []
        self.next: tuple[str, ...] = ()
        self.run_status = "success"
        self.hang = hang
        self.started = threading.Event()
        self.sync_client = Client(Runs(self))
        self.client = Client(AsyncRuns(self))

    def _snap(self) -> StateSnapshot | None:
        if not self.messages:
            return None
        return StateSnapshot({"messages": self.messages}, self.next,
                             {"configurable": {"thread_id": "t"}}, None, None, None, (), ())

    def finish(self) -> None:
        self.next, self.run_status = (), "success"
        self.messages.append(AIMessage("answer"))

    def get_state(self, config: Any) -> StateSnapshot | None:
        self.calls.append("state")
        return self._snap()

    async def aget_state(self, config: Any) -> StateSnapshot | None:
        return self.get_state(config)

    def invoke(self, input: Any, config: Any, **kwargs: Any) -> None:
        self.calls.append("run")
        self.messages = [HumanMessage(**input["messages"][0])]
        if self.hang:
            self.started.set()
            raise KeyboardInterrupt  # Ctrl-C while the sync run waits on the server
        self.finish()

    async def ainvoke(self, input: Any, config: Any, **kwargs: Any) -> None:
        self.calls.append("run")
        self.messages = [HumanMessage(**input["messages"][0])]
        if self.hang:
            self.run_status = "running"
            self.started.set()
            await asyncio.Event().wait()
        self.finish()


def child(graph: FakeGraph) -> RemoteChild:
    spec = RemoteSpec(url="http://127.0.0.1:1", graph_id="fake")
    return RemoteChild(Agent(name="remote"), spec, graph=graph)  # type: ignore[arg-type]


def config() -> Any:
    return {"configurable": {"thread_id": "p", CALL_KEY: CallInfo(tool_call_id=CALL,
                                                                   objective="x")}}


TASK = {"messages": [HumanMessage("do it")]}


def test_invoke_and_ainvoke_ask_for_the_same_io() -> None:
    sync_graph, async_graph = FakeGraph(), FakeGraph()
    out = child(sync_graph).invoke(TASK, config())
    aout = asyncio.run(child(async_graph).ainvoke(TASK, config()))
    assert [m.content for m in out["messages"]] == ["do it", "answer"]
    assert [m.content for m in aout["messages"]] == ["do it", "answer"]
    assert sync_graph.calls == async_graph.calls == ["state", "run", "state"]
    again = child(sync_graph).invoke(TASK, config())  # a finished delegation: read back
    assert again["messages"][-1].content == "answer"
    assert sync_graph.calls == ["state", "run", "state", "state"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_run_left_running_is_joined_not_started_again(mode: str) -> None:
    graph = FakeGraph()
    graph.messages = [HumanMessage("do it", id=task_message_id(CALL))]
    graph.next, graph.run_status = ("model",), "running"
    remote = child(graph)
    out = (remote.invoke(TASK, config()) if mode == "sync"
           else asyncio.run(remote.ainvoke(TASK, config())))
    assert out["messages"][-1].content == "answer"
    assert graph.calls == ["state", "list", "join", "state"]


def test_sync_interrupt_cancels_the_remote_run() -> None:
    graph = FakeGraph(hang=True)
    graph.run_status = "running"
    with pytest.raises(KeyboardInterrupt):
        child(graph).invoke(TASK, config())
    assert graph.calls[-2:] == ["list", "cancel:interrupt"]


def test_async_cancellation_cancels_the_remote_run() -> None:
    graph = FakeGraph(hang=True)

    async def main() -> None:
        task = asyncio.ensure_future(child(graph).ainvoke(TASK, config()))
        while not graph.started.is_set():
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert graph.calls[-2:] == ["list", "cancel:interrupt"]


def test_a_run_that_stops_unfinished_is_an_error() -> None:
    graph = FakeGraph()
    graph.finish = lambda: setattr(graph, "next", ("model",))  # type: ignore[method-assign]
    with pytest.raises(RemoteAgentError, match="stopped before finishing"):
        child(graph).invoke(TASK, config())


def test_plan_reads_the_thread() -> None:
    mine = HumanMessage("task", id=task_message_id(CALL))
    cfg: Any = {"configurable": {"thread_id": "t"}}
    done = StateSnapshot({"messages": [HumanMessage("old", id="x"), mine, AIMessage("a"),
                                       HumanMessage("next")]}, (), cfg, None, None, None, (), ())
    action, state = plan(done, CALL)
    assert action == "done" and state is not None
    assert [m.content for m in state["messages"]] == ["task", "a"]
    assert plan(None, CALL) == ("run", None)
    stopped = done._replace(next=("model",))
    assert plan(stopped, CALL) == ("resume", None)


def test_a_foreign_relay_skips_what_is_no_update_of_messages(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []
    root = RunScope(agent="boss", path=("boss",), parent=None, call=None,
                    budget=Budget(max_model_calls=2), background=None)
    root.sinks.append(seen.append)
    root.listening = True
    scope = RunScope(agent="remote", path=("boss", "remote"), parent=root, call=None,
                     budget=None, background=None)
    relay = Relay(scope, None).foreign()
    reply = {"type": "ai", "content": "", "id": "a1", "usage_metadata": {
        "input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
        "tool_calls": [{"name": "lookup", "args": {}, "id": "c1", "type": "tool_call"}]}
    with caplog.at_level(logging.WARNING, logger="subagents"):
        relay.part("not a part")
        relay.part(((), {"__interrupt__": [{"value": "?"}], "model": None, "x": 3}))
        relay.part(((), {"model": {"messages": [{"type": "no_such_type"}]}}))
        relay.part(((), {"model": {"messages": [reply]}}))
        relay.part((("sub:1",), {"outer": {"messages": [reply]}}))  # seen: once only
        relay.part(((), {"tools": {"messages": [{"type": "tool", "content": "r",
                                                 "tool_call_id": "c1", "id": "t1"}]}}))
    assert [e.type for e in seen] == ["model_start", "model_end", "tool_start", "tool_end"]
    assert [getattr(e, "name", None) for e in seen[2:]] == ["lookup", "lookup"]
    assert (scope.usage.model_calls, scope.usage.input_tokens) == (1, 3)
    assert scope.spent["model_calls"] == 1 and scope.spent["tokens"] == 4
    assert relay.counted and len([r for r in caplog.records if "skipped" in r.message]) == 1
    with pytest.raises(RemoteOverBudget, match="max_model_calls=2"):
        relay.part(((), {"model": {"messages": [{**reply, "id": "a2"}]}}))
