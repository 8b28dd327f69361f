"""Semantics 1-2 of the core runtime: isolation, one task per delegation, sibling safety."""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from subagents import Agent, BackgroundConfig, DelegationResult, Status, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

SECRET = "parent-secret-4711"


def results(state: dict) -> dict[str, DelegationResult]:
    return {m.tool_call_id: DelegationResult.from_message(m)
            for m in state["messages"] if isinstance(m, ToolMessage)}


async def test_child_sees_only_its_task_and_parent_sees_one_tool_message() -> None:
    c1 = call("task", agent="child", objective="Count the files", context="in src/")
    model = ScriptedChatModel(steps={
        "root": [ai(f"thinking about {SECRET}", c1), ai("root done")],
        "child": [ai(call("lookup", key="k")), ai("child answer")],
    })

    @tool
    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value of {key}"

    child = Agent(name="child", description="counts", system_prompt="You count.", tools=[lookup])
    root = Agent(name="root", model=model, subagents=[child], system_prompt="You lead.")
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage(f"hi {SECRET}")]})

    first_child_call = model.calls_by("child")[0]
    assert [type(m).__name__ for m in first_child_call.messages] == ["SystemMessage",
                                                                      "HumanMessage"]
    task_text = first_child_call.messages[1].content
    assert task_text == "Count the files\n\nContext:\nin src/"
    assert all(SECRET not in str(m.content) for c in model.calls_by("child") for m in c.messages)
    # the parent's state: its own messages + exactly one ToolMessage for the delegation
    kinds = [type(m).__name__ for m in out["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert all("value of k" not in str(m.content) for m in out["messages"])
    res = results(out)[c1["id"]]
    assert res == DelegationResult(status=Status.COMPLETED, agent="child", result="child answer")
    assert set(out) == {"messages", "usage"}
    assert [c["agent"] for c in out["usage"]["children"]] == ["child"]
    model.assert_complete()


async def test_parallel_children_run_concurrently_in_one_turn() -> None:
    arrived: set[str] = set()
    everyone = asyncio.Event()

    @tool
    async def barrier(name: str) -> str:
        """Wait until all three children have arrived (fails if they run one by one)."""
        arrived.add(name)
        if len(arrived) == 3:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), timeout=5)
        return f"{name} passed"

    def policy(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        if agent == "root":
            if isinstance(last, HumanMessage):
                return ai(*[call("task", agent=f"w{i}", objective=f"job {i}") for i in range(3)])
            return ai("all done")
        if isinstance(last, HumanMessage):
            return ai(call("barrier", name=agent))
        return ai(f"{agent}: {last.content}")

    model = ScriptedChatModel(policy=policy)
    workers = [Agent(name=f"w{i}", tools=[barrier]) for i in range(3)]
    out = await compile_agent(Agent(name="root", model=model, subagents=workers)).ainvoke(
        {"messages": [HumanMessage("go")]})
    res = sorted(r.result for r in results(out).values())
    assert res == ["w0: w0 passed", "w1: w1 passed", "w2: w2 passed"]


async def test_failing_child_does_not_cancel_siblings() -> None:
    calls = [call("task", agent=n, objective="work") for n in ("ok1", "bad", "ok2")]
    model = ScriptedChatModel(latency=0.01, steps={
        "root": [ai(*calls), ai("summary")],
        "ok1": [ai("one")], "ok2": [ai("two")], "bad": [RuntimeError("model exploded")],
    })
    agents = [Agent(name=n) for n in ("ok1", "bad", "ok2")]
    out = await compile_agent(Agent(name="root", model=model, subagents=agents)).ainvoke(
        {"messages": [HumanMessage("go")]})
    res = results(out)
    assert res[calls[0]["id"]].result == "one"
    assert res[calls[2]["id"]].result == "two"
    assert res[calls[1]["id"]].status is Status.FAILED
    assert res[calls[1]["id"]].error == "RuntimeError: model exploded"
    assert out["messages"][-1].content == "summary"


def test_sync_invoke_runs_the_same_graph() -> None:
    c = call("task", agent="child", objective="x")
    model = ScriptedChatModel(steps={"root": [ai(c), ai("fin")], "child": [ai("cx")]})
    out = compile_agent(Agent(name="root", model=model, subagents=[Agent(name="child")])).invoke(
        {"messages": [HumanMessage("go")]})
    assert results(out)[c["id"]].result == "cx"


async def test_per_agent_tools_and_overrides() -> None:
    class Query(BaseModel):
        query: str
        limit: int = 3

    searcher = Agent(name="searcher", input_schema=Query, tool_name="find",
                     tool_description="Find things.")
    writer = Agent(name="writer", description="writes")
    c1, c2 = call("find", query="needle", limit=2), call("task_writer", objective="write it")
    model = ScriptedChatModel(steps={
        "root": [ai(c1, c2), ai("ok")], "searcher": [ai("found")], "writer": [ai("written")]})
    root = Agent(name="root", model=model, subagents=[searcher, writer], delegation="per_agent")
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    assert model.calls_by("root")[0].tools == ["find", "task_writer"]
    assert model.calls_by("searcher")[0].messages[-1].content == "needle"
    assert results(out)[c2["id"]].result == "written"


async def test_input_schema_without_message_field_sends_json() -> None:
    class Args(BaseModel):
        a: int
        b: list[str]

    c = call("task_calc", a=1, b=["x"])
    model = ScriptedChatModel(steps={"root": [ai(c), ai("ok")], "calc": [ai("3")]})
    root = Agent(name="root", model=model, delegation="per_agent",
                 subagents=[Agent(name="calc", input_schema=Args)])
    await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    assert json.loads(model.calls_by("calc")[0].messages[-1].content) == {"a": 1, "b": ["x"]}


async def test_invalid_delegation_arguments_are_a_clear_result() -> None:
    c1 = call("task", agent="child", objective="")
    c2 = call("task", agent="child", objective="ok", context=5)
    model = ScriptedChatModel(steps={"root": [ai(c1, c2), ai("ok")]})
    root = Agent(name="root", model=model, subagents=[Agent(name="child")])
    res = results(await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}))
    assert res[c1["id"]].status is Status.FAILED
    assert "'objective' must be a non-empty string" in (res[c1["id"]].error or "")
    assert "'context' must be a string" in (res[c2["id"]].error or "")


async def test_a_background_flag_that_is_no_boolean_is_refused_not_run_in_the_foreground(
) -> None:
    """``background: "yes"`` (or 1) is no boolean: a typed failure the model can correct."""
    calls = [call("task", agent="child", objective="x", background=v) for v in ("yes", 1)]
    ok = call("task", agent="child", objective="x", background=False)
    model = ScriptedChatModel(steps={"root": [ai(*calls, ok), ai("done")],
                                     "child": [ai("child ok")]})
    root = Agent(name="root", model=model, subagents=[Agent(name="child")],
                 background=BackgroundConfig())
    res = results(await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}))
    for c in calls:
        assert res[c["id"]].status is Status.FAILED
        assert "'background' must be true or false" in (res[c["id"]].error or "")
    assert res[ok["id"]].status is Status.COMPLETED
    assert len(model.calls_by("child")) == 1  # only the call with a boolean ran


@pytest.mark.parametrize("with_context", [True, False])
def test_task_schema_enumerates_allowed_agents(with_context: bool) -> None:
    from subagents.nodes.schemas import task_spec

    spec = task_spec([Agent(name="a", description="A"), Agent(name="b")],
                     with_context=with_context)
    params = spec["function"]["parameters"]
    assert params["properties"]["agent"]["enum"] == ["a", "b"]
    assert ("context" in params["properties"]) is with_context
    assert "- a: A" in spec["function"]["description"]
