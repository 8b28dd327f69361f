"""Depth counted down from the root; each agent compiled once per (agent, remaining depth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

import subagents.graphs.compile as compile_module
from subagents import Agent, compile_agent, observe
from subagents.events import BaseEvent, SubagentStart
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call


def route_policy(messages: list, agent: str | None) -> AIMessage:
    """``route:b,a,c``: delegate to the first name with the rest as objective; then wrap."""
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return ai(f"{agent}({json.loads(str(last.content))['result']})")
    hops = str(last.content).removeprefix("route:").split(",")
    if hops == [""]:
        return ai(f"{agent}-leaf")
    return ai(call("task", agent=hops[0], objective="route:" + ",".join(hops[1:])))


def chain(**depths: int | None) -> Agent:
    """a -> b -> c -> d, each with the given ``max_subagent_depth`` (absent: None)."""
    model = ScriptedChatModel(policy=route_policy)
    d = Agent(name="d", model=model, max_subagent_depth=depths.get("d"))
    c = Agent(name="c", subagents=[d], max_subagent_depth=depths.get("c"))
    b = Agent(name="b", subagents=[c], max_subagent_depth=depths.get("b"))
    return Agent(name="a", model=model, subagents=[b], max_subagent_depth=depths.get("a"))


async def ask(root: Agent, route: str) -> str:
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage(f"route:{route}")]})
    return str(out["messages"][-1].content)


async def test_a_root_depth_of_three_reaches_the_fourth_level() -> None:
    root = chain(a=3)
    assert await ask(root, "b,c,d") == "a(b(c(d-leaf)))"
    model = root.model
    assert isinstance(model, ScriptedChatModel)
    assert [model.calls_by(n)[0].tools for n in "abcd"] == [["task"], ["task"], ["task"], []]


async def test_a_child_value_lowers_the_inherited_depth_and_never_raises_it() -> None:
    root = chain(a=3, b=1, c=5)  # b lowers: c is at depth 0 whatever it asks for
    answer = await ask(root, "b,c,d")
    model = root.model
    assert isinstance(model, ScriptedChatModel)
    assert model.calls_by("c")[0].tools == [] and model.calls_by("d") == []
    assert answer.startswith("a(b(c(") and "depth_exceeded" in model.calls_by("c")[1].messages[
        -1].content


async def test_a_root_without_a_limit_delegates_one_level() -> None:
    root = chain()
    model = root.model
    assert isinstance(model, ScriptedChatModel)
    assert (await ask(root, "b")) == "a(b-leaf)"
    assert model.calls_by("b")[0].tools == []


def counted_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    original = compile_module.build_agent_graph

    def counting(plan: Any, **kwargs: Any) -> Any:
        built.append(plan.agent.name)
        return original(plan, **kwargs)

    monkeypatch.setattr(compile_module, "build_agent_graph", counting)
    return built


def cycle(depth: int, model: ScriptedChatModel) -> Agent:
    """a -> b, b -> a (an ancestor) and b -> b: one graph per path grows ~1.6x per level."""
    b = Agent(name="b", subagents=["a", "b"])
    return Agent(name="a", model=model, subagents=[b], max_subagent_depth=depth)


@pytest.mark.parametrize("depth", [6, 12, 24])
def test_a_cycle_builds_graphs_linear_in_depth(monkeypatch: pytest.MonkeyPatch,
                                               depth: int) -> None:
    built = counted_builds(monkeypatch)
    compile_agent(cycle(depth, ScriptedChatModel(steps=[])))
    # the root, b below it, then a and b once at each of the depth - 1 lower levels
    assert len(built) == 2 * depth
    assert built.count("a") == depth and built.count("b") == depth


async def test_a_shared_graph_reports_the_path_of_each_place() -> None:
    starts: list[tuple[str, ...]] = []

    def listener(path: list[str], event: BaseEvent) -> None:
        if isinstance(event, SubagentStart):
            starts.append(tuple(path))

    model = ScriptedChatModel(policy=route_policy)
    b = Agent(name="b", subagents=["a", "b"])
    root = Agent(name="a", model=model, subagents=[b], max_subagent_depth=5,
                 on_subagent_event=listener)
    assert await ask(root, "b,a,b,b,a") == "a(b(a(b(b(a-leaf)))))"
    # the nested a is the root's spec: its listener hears its own descendants too
    assert list(dict.fromkeys(starts)) == [("a", "b"), ("a", "b", "a"), ("a", "b", "a", "b"),
                      ("a", "b", "a", "b", "b"), ("a", "b", "a", "b", "b", "a")]
    last_a = [c for c in model.calls_by("a") if c.messages[-1].content == "route:"]
    assert [c.tools for c in last_a] == [[]]  # the last a is at depth 0


def test_a_team_file_chain_draws_every_level_below_its_root_limit() -> None:
    team = load_team({"agents": [
        {"name": "a", "subagents": ["b"], "max_subagent_depth": 3},
        {"name": "b", "subagents": ["c"]},
        {"name": "c", "subagents": ["d"], "max_subagent_depth": None},
        {"name": "d", "subagents": ["e"]},
        {"name": "e"},
    ]})
    drawing = compile_agent(team, model=ScriptedChatModel(steps=[])).get_graph(
        xray=True).draw_mermaid(with_styles=False)
    assert "subgraph b/c/d\n" in drawing and "b/c/d/e" not in drawing  # d is at depth 0


def long_chain(n: int) -> Agent:
    """a0 -> a1 -> ... -> a<n-1>, the root's depth limit n: each delegates once, then wraps."""
    model = ScriptedChatModel(policy=route_policy)
    agent = Agent(name=f"a{n - 1}", model=model)
    for i in reversed(range(n - 1)):
        agent = Agent(name=f"a{i}", model=model, subagents=[agent],
                      max_subagent_depth=n if i == 0 else None)
    return agent


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_chain_deeper_than_the_stack_ends_its_deepest_delegation_failed(
        mode: str) -> None:
    """120 levels: a sync run hits Python's recursion limit somewhere down the chain; the
    delegation there ends ``failed`` (``RecursionError``) and every parent goes on."""
    n = 120
    root = long_chain(n)
    route = "route:" + ",".join(f"a{i}" for i in range(1, n))
    ends: list[BaseEvent] = []
    _, cfg = observe(on_event=ends.append)
    graph = compile_agent(root)
    inputs = {"messages": [HumanMessage(route)]}
    out = await graph.ainvoke(inputs, cfg) if mode == "async" else graph.invoke(inputs, cfg)
    assert str(out["messages"][-1].content).startswith("a0(")
    failed = [e for e in ends if e.type == "subagent_end" and e.status != "completed"]
    if mode == "async":
        assert failed == [] and f"a{n - 1}-leaf" in str(out["messages"][-1].content)
    else:
        assert len(failed) <= 1
        assert all("RecursionError" in str(getattr(e, "error", "")) for e in failed)
