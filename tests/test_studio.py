"""What LangGraph Studio sees of the exported graphs, without a server.

- The drawing (``get_graph(xray=True)``) of the exported ``research`` and ``explorer``
  graphs, loaded from their files the way ``langgraph dev`` loads them.
- Breakpoints (``interrupt_before``), as Studio sets them on a run. LangGraph applies a
  run's ``interrupt_before`` to the ROOT graph only: a name matching a root node (its
  ``model``, a delegation node such as ``critic``) pauses the run there; nodes of a sub-agent
  never pause from it, even when they have the same name. A pause INSIDE a sub-agent works
  when the sub-agent's compiled graph has its own ``interrupt_before`` (no public
  ``subagents`` API sets it today; the test sets the compiled child's attribute).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from syrupy.assertion import SnapshotAssertion

from subagents import compile_agent
from subagents.checkpoints import memory_saver
from subagents.graphs.research import build_team
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel
from subagents.testing.demo import research_policy

GRAPHS = Path(__file__).resolve().parents[1] / "src" / "subagents" / "graphs"


def _load_exported(name: str, monkeypatch: pytest.MonkeyPatch, model: str) -> ModuleType:
    """Import ``graphs/<name>.py`` afresh with ``SUBAGENTS_MODEL`` set, as the server does."""
    monkeypatch.setenv("SUBAGENTS_MODEL", f"python:subagents.testing.demo:{model}")
    spec = importlib.util.spec_from_file_location(f"_studio_{name}", GRAPHS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_mermaid_of_exported_research_graph(monkeypatch: pytest.MonkeyPatch,
                                            snapshot: SnapshotAssertion) -> None:
    graph = _load_exported("research", monkeypatch, "research_model").graph
    mermaid = graph.get_graph(xray=True).draw_mermaid(with_styles=False)
    assert mermaid == snapshot
    # each sub-agent's own graph is drawn inside its delegation node
    for child, inner in (("researcher", ("model", "tools")), ("critic", ("model",))):
        assert f"\tsubgraph {child}\n" in mermaid
        for node in inner:
            assert f"{child}\\3a{node}" in mermaid
    assert "lifecycle" in mermaid  # agent_await and friends


def test_mermaid_of_exported_explorer_graph(monkeypatch: pytest.MonkeyPatch,
                                            snapshot: SnapshotAssertion, tmp_path: Path) -> None:
    monkeypatch.setenv("SUBAGENTS_ROOT", str(tmp_path))
    graph = _load_exported("explorer", monkeypatch, "explorer_model").graph
    mermaid = graph.get_graph(xray=True).draw_mermaid(with_styles=False)
    assert mermaid == snapshot
    assert "\tsubgraph explore\n" in mermaid


def test_a_nested_delegation_node_is_named_by_the_childs_path(tmp_path: Path) -> None:
    nested = Path(__file__).resolve().parent / "fakes" / "nested_team.yaml"
    graph = compile_agent(load_team(nested, root=tmp_path), model=ScriptedChatModel(steps=[]))
    mermaid = graph.get_graph(xray=True).draw_mermaid(with_styles=False)
    assert "\tsubgraph explore/search\n" in mermaid  # the child's path below the root


def _research(checkpointed: bool = True) -> tuple[Any, ScriptedChatModel]:
    model = ScriptedChatModel(policy=research_policy)
    graph = compile_agent(build_team(), model=model,
                          checkpointer=memory_saver() if checkpointed else None)
    return graph, model


def _agents(model: ScriptedChatModel) -> list[str | None]:
    return [c.agent for c in model.calls]


def _critic_results(state: Any) -> list[ToolMessage]:
    return [m for m in state.values["messages"]
            if isinstance(m, ToolMessage) and '"agent": "critic"' in str(m.content)]


INPUT = {"messages": [HumanMessage("cats")]}


async def test_interrupt_before_a_delegation_node_pauses_before_the_sub_agent() -> None:
    graph, model = _research()
    cfg = {"configurable": {"thread_id": "t"}}
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["critic"])
        paused = await graph.aget_state(cfg, subgraphs=True)
        assert paused.next == ("critic",)
        assert "critic" not in _agents(model)  # the sub-agent has not started
        assert paused.tasks[0].name == "critic"
        child = paused.tasks[0].state
        assert child is not None
        assert (child.values, child.next) == ({}, ())  # nothing of it exists yet

        await graph.ainvoke(None, cfg)
        done = await graph.aget_state(cfg)
    assert done.next == ()
    assert _agents(model).count("critic") == 1
    assert len(_critic_results(done)) == 1
    assert str(done.values["messages"][-1].content).startswith("report:")


async def test_interrupt_before_model_pauses_the_root_only() -> None:
    """Every agent has a node named ``model``; a run's breakpoint stops only the lead's."""
    graph, model = _research()
    cfg = {"configurable": {"thread_id": "t"}}
    pauses: list[list[str | None]] = []
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["model"])
        while (state := await graph.aget_state(cfg, subgraphs=True)).next:
            assert state.next == ("model",)
            assert [t.state for t in state.tasks] == [None]  # never paused inside a child
            pauses.append(_agents(model))
            await graph.ainvoke(None, cfg, interrupt_before=["model"])
    # one pause before each of the lead's 4 model calls; the children ran straight through
    assert len(pauses) == 4
    assert pauses[0] == []
    assert [p.count("lead") for p in pauses] == [0, 1, 2, 3]
    assert "critic" in pauses[-1]  # the critic's model ran between two pauses, unpaused
    assert str(state.values["messages"][-1].content).startswith("report:")


async def test_path_qualified_breakpoint_names_are_ignored() -> None:
    """``critic:model`` (or ``critic/model``) is no node of the root: no pause, no error."""
    graph, model = _research()
    cfg = {"configurable": {"thread_id": "t"}}
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["critic:model", "critic/model"])
        state = await graph.aget_state(cfg)
    assert state.next == ()
    assert "critic" in _agents(model)


async def test_a_sub_agent_compiled_with_interrupt_before_pauses_inside_it() -> None:
    """Pausing at node X of sub-agent Y needs Y's own compiled ``interrupt_before``."""
    graph, model = _research()
    critic = graph.subagents_plan.children["critic"].graph
    critic.interrupt_before_nodes = ["model"]  # what compile(interrupt_before=...) sets
    cfg = {"configurable": {"thread_id": "t"}}
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg)
        paused = await graph.aget_state(cfg, subgraphs=True)
        # the root waits in the delegation node; the critic waits before its model
        assert paused.next == ("critic",)
        [task] = paused.tasks
        assert task.name == "critic"
        assert task.state is not None
        assert task.state.next == ("model",)
        assert [m.type for m in task.state.values["messages"]] == ["human"]
        assert "critic" not in _agents(model)

        await graph.ainvoke(None, cfg)
        done = await graph.aget_state(cfg)
    assert done.next == ()
    assert _agents(model).count("critic") == 1  # resumed, not restarted
    assert len(_critic_results(done)) == 1
    assert str(done.values["messages"][-1].content).startswith("report:")


async def test_a_breakpoint_before_agent_await_keeps_the_background_results() -> None:
    graph, _ = _research()
    cfg = {"configurable": {"thread_id": "t"}}
    async with asyncio.timeout(10):
        await graph.ainvoke(INPUT, cfg, interrupt_before=["lifecycle"])
        assert (await graph.aget_state(cfg)).next == ("lifecycle",)
        await graph.ainvoke(None, cfg)
        done = await graph.aget_state(cfg)
    awaited = next(m for m in done.values["messages"]
                   if isinstance(m, ToolMessage) and m.name == "agent_await")
    assert '"status": "completed"' in str(awaited.content)
    assert "cats: facts about cats" in str(awaited.content)
