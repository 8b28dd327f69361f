"""Remote sub-agents: a local parent delegates to graphs on a real ``langgraph dev`` server.

The server (loopback, a free port checked by ``_server.start_dev_server``, cwd a temporary
directory) serves the repository's ``langgraph.json`` graphs on the scripted demo model, plus
two small graphs written by this module (``asker``: interrupts; ``memo``: echoes its history).
The parent is wired exactly as ``compile_agent`` will wire a spec with ``remote=...``: the
child's ``ChildLink.graph`` is a ``RemoteChild`` instead of a compiled subgraph.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command
from langgraph_sdk.client import LangGraphClient

from _server import DevServer, demo_server, free_port, sdk_client, task_then_echo
from _waiting import poll_until, wait_event
from subagents import Agent, DelegationResult, Status, compile_agent, observe
from subagents.checkpoints import memory_saver
from subagents.events import BaseEvent, ToolStart
from subagents.graphs import compile as compile_mod
from subagents.nodes import child_run as delegate_mod
from subagents.runtime.call import CALL_KEY
from subagents.runtime.steps import Invoke
from subagents.subgraphs.remote import (
    RemoteAgentError,
    RemoteChild,
    RemoteSpec,
    remote_thread_id,
)
from subagents.testing import ScriptedChatModel

pytestmark = pytest.mark.server

SLOW = 20.0
"""``SUBAGENTS_DEMO_SLOW`` on the server: a ``slow`` researcher outlives any test unless
cancelled."""

EXTRA_GRAPHS = '''
"""Graphs for tests/test_remote.py (written into the server's temporary directory)."""
from langchain_core.messages import HumanMessage, ToolMessage
from subagents import Agent, compile_agent
from subagents.testing import ScriptedChatModel, ai, call
from subagents.tools.demo import ask_human


def _asker(messages, agent):
    last = messages[-1]
    if isinstance(last, HumanMessage):
        return ai(call("ask_human", question=f"ok to {last.content}?"))
    return ai(f"human said {last.content}")


def _memo(messages, agent):
    seen = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return ai(f"memo saw {seen}")


asker = compile_agent(Agent(name="asker", tools=[ask_human],
                            model=ScriptedChatModel(policy=_asker)))
memo = compile_agent(Agent(name="memo", model=ScriptedChatModel(policy=_memo)))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    workdir: Path = tmp_path_factory.mktemp("remote-dev")
    (workdir / "extra_graphs.py").write_text(EXTRA_GRAPHS)
    extra = {g: f"{workdir / 'extra_graphs.py'}:{g}" for g in ("asker", "memo")}
    with demo_server(workdir, extra, {"SUBAGENTS_DEMO_SLOW": str(SLOW)}) as srv:
        yield srv


@pytest.fixture
async def client(server: DevServer) -> AsyncIterator[LangGraphClient]:
    async with sdk_client(server) as lg:
        yield lg


# -- the parent -----------------------------------------------------------------------------

FIXED_CALL = "call_remote_fixed"


boss_policy = task_then_echo(lambda: FIXED_CALL)  # read at each call: a test may patch it


def remote_spec(server: DevServer, graph_id: str, **kw: Any) -> RemoteSpec:
    return RemoteSpec(url=server.url, graph_id=graph_id, timeout=30.0, **kw)


def wire(monkeypatch: pytest.MonkeyPatch, remotes: dict[str, RemoteSpec]) -> None:
    """Do what the compile.py patch does: a remote agent's child graph is a RemoteChild.

    A persistent remote child is run by the RemoteChild itself (the child_run.py patch).
    """
    original = compile_mod._compile

    def _compile(agent: Agent, *args: Any) -> Any:
        if agent.name in remotes:
            return RemoteChild(agent, remotes[agent.name])
        return original(agent, *args)

    def persistent_run(graph: Any, link: Any, task: dict[str, Any], call: Any,
                       config: Any) -> Any:
        assert isinstance(graph, RemoteChild)
        return (yield Invoke(graph, task, {"configurable": {CALL_KEY: call}}))

    monkeypatch.setattr(compile_mod, "_compile", _compile)
    monkeypatch.setattr(delegate_mod, "persistent_run", persistent_run)


def boss(*children: Agent) -> Agent:
    return Agent(name="boss", model=ScriptedChatModel(policy=boss_policy), subagents=children)


def research() -> Agent:
    return Agent(name="research", description="A research team on a LangGraph server.")


def delegation(out: dict[str, Any]) -> DelegationResult:
    (msg,) = [m for m in out["messages"] if isinstance(m, ToolMessage)][-1:]
    return DelegationResult.from_message(msg)


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


# -- tests ----------------------------------------------------------------------------------


async def test_parent_gets_the_remote_final_answer(
        server: DevServer, client: LangGraphClient, monkeypatch: pytest.MonkeyPatch) -> None:
    wire(monkeypatch, {"research": remote_spec(server, "research")})
    graph = compile_agent(boss(research()), checkpointer=memory_saver())
    events: list[Any] = []
    _, cfg = observe(on_event=events.append)
    cfg["configurable"]["thread_id"] = "p1"
    started = time.perf_counter()
    out = await graph.ainvoke(ask("research: alpha, beta"), cfg)
    elapsed = time.perf_counter() - started
    result = delegation(out)
    assert result.status == Status.COMPLETED, result
    assert result.agent == "research"
    assert str(result.result).startswith("report: ") and "critique of" in str(result.result)
    assert out["messages"][-1].content == f"boss got: {out['messages'][-2].content}"
    ends = [e for e in events if e.type == "subagent_end" and e.path == ["boss", "research"]]
    assert [e.status for e in ends] == [Status.COMPLETED]
    assert any(e.type == "subagent_start" and e.path == ["boss", "research"] for e in events)
    # the remote run lives on the delegation's own thread, findable from the parent's side
    thread = remote_thread_id("research", "p1", FIXED_CALL)
    runs = await client.runs.list(thread)
    assert [r["status"] for r in runs] == ["success"]
    assert runs[0]["metadata"]["subagents_tool_call_id"] == FIXED_CALL
    assert elapsed < 20


def test_sync_invoke(server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wire(monkeypatch, {"research": remote_spec(server, "research")})
    graph = compile_agent(boss(research()))  # no checkpointer: a thread per tool call anyway
    result = delegation(graph.invoke(ask("research: gamma")))
    assert result.status == Status.COMPLETED, result
    assert str(result.result).startswith("report: ")


async def test_finished_delegation_is_read_back_not_rerun(
        server: DevServer, client: LangGraphClient) -> None:
    """A parent resumed after a crash re-invokes the child: the remote run is not repeated."""
    from subagents.runtime.call import CallInfo

    child = RemoteChild(research(), remote_spec(server, "research"))
    cfg: Any = {"configurable": {"thread_id": "p-resume",
                                 CALL_KEY: CallInfo(tool_call_id="call_r1", objective="x")}}
    first = await child.ainvoke(ask("delta"), cfg)
    second = await child.ainvoke(ask("delta"), cfg)
    assert first["messages"][-1].content == second["messages"][-1].content
    assert isinstance(second["messages"][0], HumanMessage)
    runs = await client.runs.list(remote_thread_id("research", "p-resume", "call_r1"))
    assert len(runs) == 1


async def test_unknown_graph_is_a_failed_delegation(
        server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wire(monkeypatch, {"research": remote_spec(server, "no_such_graph")})
    graph = compile_agent(boss(research()))
    out = await graph.ainvoke(ask("research: alpha"))
    result = delegation(out)
    assert result.status == Status.FAILED
    assert result.error is not None
    assert result.error.startswith("RemoteAgentError: remote sub-agent 'research'")
    assert "no_such_graph" in result.error and "HTTP 422" in result.error
    assert out["messages"][-1].content.startswith("boss got: ")  # the parent went on


async def test_server_down_is_a_failed_delegation(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    wire(monkeypatch, {"research": RemoteSpec(url=url, graph_id="research", timeout=5)})
    graph = compile_agent(boss(research()))
    result = delegation(await graph.ainvoke(ask("research: alpha")))
    assert result.status == Status.FAILED
    assert result.error is not None and "unreachable" in result.error and url in result.error


async def test_cancelling_the_parent_cancels_the_remote_run(
        server: DevServer, client: LangGraphClient, monkeypatch: pytest.MonkeyPatch) -> None:
    wire(monkeypatch, {"research": remote_spec(server, "research")})
    graph = compile_agent(boss(research()), checkpointer=memory_saver())
    in_slow_tool = asyncio.Event()  # relayed from the remote run: its researcher's tool started

    def hear(event: BaseEvent) -> None:
        if isinstance(event, ToolStart) and event.name == "slow_lookup":
            in_slow_tool.set()

    _, cfg = observe({"configurable": {"thread_id": "p-cancel"}}, on_event=hear)
    thread = remote_thread_id("research", "p-cancel", FIXED_CALL)
    parent = asyncio.create_task(graph.ainvoke(ask("research: slow topic"), cfg))
    await wait_event(in_slow_tool, timeout=20, what="the remote researcher's slow tool")
    runs = await client.runs.list(thread)
    assert [r["status"] for r in runs] == ["running"]
    parent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await parent
    cancelled_at = time.monotonic()
    statuses: list[str] = []

    async def ended() -> bool:
        statuses[:] = [r["status"] for r in await client.runs.list(thread)]
        return bool(statuses) and statuses[0] not in ("pending", "running")

    await poll_until(ended, timeout=10, what="the remote run's end")
    assert statuses == ["interrupted"]
    assert time.monotonic() - cancelled_at < SLOW / 2  # not merely run to completion


async def test_remote_interrupt_reaches_the_root_and_resumes(
        server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    asker = Agent(name="asker", description="Asks a human.")
    wire(monkeypatch, {"asker": remote_spec(server, "asker")})
    graph = compile_agent(boss(asker), checkpointer=memory_saver())
    cfg = {"configurable": {"thread_id": "p-int"}}
    out = await graph.ainvoke(ask("asker: deploy"), cfg)
    (pending,) = out["__interrupt__"]
    assert pending.value["remote_agent"] == "asker"
    assert pending.value["interrupts"] == [{"question": "ok to deploy?"}]
    out = await graph.ainvoke(Command(resume="yes"), cfg)
    result = delegation(out)
    assert result.status == Status.COMPLETED, result
    assert result.result == "human said yes"


async def test_persistent_remote_child_keeps_one_history_per_parent_thread(
        server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = Agent(name="memo", description="Remembers.", persistent=True)
    wire(monkeypatch, {"memo": remote_spec(server, "memo")})
    graph = compile_agent(boss(memo), checkpointer=memory_saver())

    async def turn(text: str, thread: str) -> DelegationResult:
        cfg = {"configurable": {"thread_id": thread}}
        # a fresh tool call id per turn (the fixed one is for single-call tests)
        return delegation(await graph.ainvoke(ask(text), cfg))

    monkeypatch.setattr(f"{__name__}.FIXED_CALL", "call_m1")
    await turn("memo: one", "pm1")
    monkeypatch.setattr(f"{__name__}.FIXED_CALL", "call_m2")
    second = await turn("memo: two", "pm1")
    assert second.result == "memo saw ['one', 'two']"
    monkeypatch.setattr(f"{__name__}.FIXED_CALL", "call_m3")
    other = await turn("memo: three", "pm2")
    assert other.result == "memo saw ['three']"


def test_remote_agent_declaration() -> None:
    spec = RemoteSpec(url="http://127.0.0.1:1", graph_id="research", api_key="s3cr3t")  # type: ignore[arg-type]
    assert "s3cr3t" not in repr(spec)
    agent = Agent.from_remote("http://127.0.0.1:1", "research", name="research",
                              description="Remote.", timeout=3)
    assert agent.remote is not None
    assert agent.remote.graph_id == "research" and agent.remote.timeout == 3


def test_errors_name_the_agent_and_server() -> None:
    child = RemoteChild(research(), RemoteSpec(url="http://127.0.0.1:1", graph_id="g"))
    err = child._error(RuntimeError("boom"))
    assert isinstance(err, RemoteAgentError)
    assert str(err) == ("remote sub-agent 'research' (graph 'g' at http://127.0.0.1:1): "
                        "RuntimeError: boom")


async def test_compile_agent_wires_declared_remote_agents(server: DevServer) -> None:
    """With the spec/compile/delegate patches: no wiring by hand, persistent included."""
    research_agent = Agent.from_remote(server.url, "research", name="research",
                                       description="Remote research.", timeout=30)
    memo = Agent.from_remote(server.url, "memo", name="memo", persistent=True)
    with pytest.raises(ValueError, match="remote"):
        Agent(name="bad", remote={"url": server.url, "graph_id": "memo"},
              subagents=[Agent(name="x")])
    graph = compile_agent(boss(research_agent, memo), checkpointer=memory_saver())
    cfg = {"configurable": {"thread_id": "p-patched"}}
    result = delegation(await graph.ainvoke(ask("research: alpha"), cfg))
    assert result.status == Status.COMPLETED and str(result.result).startswith("report: ")
    result = delegation(await graph.ainvoke(ask("memo: hello"), cfg))
    assert result.result == "memo saw ['hello']"
