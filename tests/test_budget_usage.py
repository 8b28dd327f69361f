"""Tree-wide budgets at the boundary (sequential runs; see test_budget_exact for parallel
ones) and the usage report."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from subagents import Agent, Budget, DelegationResult, Status, compile_agent
from subagents.testing import ScriptedChatModel, ai, call


@tool
def probe(n: int) -> str:
    """Probe something."""
    return f"probed {n}"


def busy_policy(messages: list, agent: str | None) -> AIMessage:
    """Never finishes on its own: root delegates, workers probe forever."""
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root":
        return ai(call("task", agent="worker", objective=f"job {turns}"))
    return ai(call("probe", n=turns))


def team(budget: Budget, worker_budget: Budget | None = None,
         ) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=busy_policy)
    worker = Agent(name="worker", tools=[probe], budget=worker_budget, max_steps=50)
    return Agent(name="root", model=model, subagents=[worker], budget=budget, max_steps=50), model


async def run(root: Agent) -> dict:
    return await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})


@pytest.mark.parametrize("limit", [1, 2, 5, 9])
async def test_max_model_calls_is_exact_across_the_tree(limit: int) -> None:
    root, model = team(Budget(max_model_calls=limit))
    out = await run(root)
    assert len(model.calls) == limit
    last = out["messages"][-1]
    assert last.content == f"Stopped: budget exhausted: max_model_calls={limit} (used {limit})"
    assert out["usage"]["status"] == "over_budget"
    assert out["usage"]["totals"]["model_calls"] == limit
    if limit > 1:
        first = next(m for m in out["messages"] if isinstance(m, ToolMessage))
        assert DelegationResult.from_message(first).status is Status.OVER_BUDGET


async def test_project88_five_tool_rounds_across_the_call_tree() -> None:
    root, model = team(Budget(max_tool_rounds=5))
    await run(root)
    rounds = sum(1 for c in model.calls if c.reply is not None and c.reply.tool_calls)
    assert rounds == 5
    assert len(model.calls) == 5


async def test_child_budget_is_smaller_and_parent_budget_still_applies() -> None:
    root, model = team(Budget(max_model_calls=10), worker_budget=Budget(max_model_calls=2))
    out = await run(root)
    assert len(model.calls) == 10
    results = [DelegationResult.from_message(m) for m in out["messages"]
               if isinstance(m, ToolMessage)]
    assert {r.status for r in results} == {Status.OVER_BUDGET}
    workers = out["usage"]["children"]
    assert all(w["model_calls"] <= 2 for w in workers)
    assert sum(w["model_calls"] for w in workers) + out["usage"]["model_calls"] == 10


async def test_max_tokens_stops_before_exceeding() -> None:
    root, model = team(Budget(max_tokens=60))
    out = await run(root)
    spent = sum(c.reply.usage_metadata["total_tokens"] for c in model.calls if c.reply)
    last_reply = model.calls[-1].reply
    assert last_reply is not None
    assert spent - last_reply.usage_metadata["total_tokens"] < 60 <= spent
    assert "max_tokens=60" in out["messages"][-1].content


async def test_usage_report_sums_up_the_tree() -> None:
    c1 = call("task", agent="worker", objective="a")
    c2 = call("task", agent="worker", objective="b")
    model = ScriptedChatModel(steps={
        "root": [ai(c1, c2), ai("done")],
        "worker": [ai(call("probe", n=1)), ai("w1"), ai("w2")],
    })
    worker = Agent(name="worker", tools=[probe])
    out = await run(Agent(name="root", model=model, subagents=[worker]))
    usage = out["usage"]
    assert usage["model_calls"] == 2 and usage["tool_calls"] == 2
    assert [c["objective"] for c in usage["children"]] == ["a", "b"]
    assert sum(c["model_calls"] for c in usage["children"]) == 3
    assert usage["totals"]["model_calls"] == len(model.calls) == 5
    tokens_in = sum(c.reply.usage_metadata["input_tokens"] for c in model.calls if c.reply)
    assert usage["totals"]["input_tokens"] == tokens_in
    assert usage["totals"]["tool_calls"] == 3
    assert all(c["status"] == "completed" and c["seconds"] >= 0 for c in usage["children"])
    json.dumps(usage)


def test_budget_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="max_model_calls"):
        Budget(max_model_calls=-1)
    with pytest.raises(ValueError, match="max_secs"):
        Budget(max_secs=3)  # type: ignore[call-arg]
