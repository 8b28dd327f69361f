"""Money (#17 item 3) for own graphs (``Agent.from_graph``): their model calls, seen through
LangChain callbacks, priced like a native agent's (its price table, inherited, local 0),
recorded per node and in ``model_end``, and held to ``Budget(max_cost)`` by worst-case
reservations; an unknown price under ``max_cost`` fails that child only."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from langgraph.graph import START, StateGraph

from _cost_support import PRICE, cost_of, probe
from subagents import Agent, Budget, DelegationResult, Status, compile_agent, observe
from subagents.events import BaseEvent, ModelEnd
from subagents.runtime.cost import model_price, price_of
from subagents.testing import ScriptedChatModel, ai, call

INNER = "inner-1"
"""The own graph's model name (the parent's model is ``"scripted"``)."""
INNER_PRICE = (3.0, 5.0)
GO = {"messages": [HumanMessage("go")]}


class CappedModel(ScriptedChatModel):
    """A scripted model whose calls say ``max_tokens`` (its invocation parameters): an own
    graph's call then reserves 100 output tokens, not the 4096 default."""

    max_tokens: int = 100

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens}


def run(graph: Any, inputs: Any, config: Any = None, *, is_async: bool) -> dict[str, Any]:
    if is_async:
        out: dict[str, Any] = asyncio.run(asyncio.wait_for(graph.ainvoke(inputs, config), 30))
    else:
        out = graph.invoke(inputs, config)
    return out


def results(out: dict[str, Any]) -> list[DelegationResult]:
    return [DelegationResult.from_message(m) for m in out["messages"]
            if isinstance(m, ToolMessage)]


def boss(*helpers: Agent, **options: Any) -> tuple[Agent, ScriptedChatModel]:
    """A parent that delegates once to each of ``helpers`` (in parallel), then answers."""
    calls = [call("task", agent=h.name, objective=f"job {i}") for i, h in enumerate(helpers)]
    model = ScriptedChatModel(steps={"root": [ai(*calls), ai("root done")]})
    return Agent(name="root", model=model, subagents=list(helpers), **options), model


def agent_graph(model: ScriptedChatModel, name: str = "helper") -> Runnable[Any, Any]:
    return create_agent(model, tools=[probe], name=name)


class Chat(TypedDict, total=False):
    messages: list[BaseMessage]


def state_graph(model: ScriptedChatModel) -> Runnable[Any, Any]:
    """A hand-written StateGraph: one node calling the model on the task."""

    def answer(state: Chat) -> Chat:
        return {"messages": [*state["messages"], model.invoke(state["messages"])]}

    builder = StateGraph(Chat)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    return builder.compile()


# -- priced per node, rolled up, in model_end --------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
def test_an_own_graphs_calls_are_priced_by_its_table(is_async: bool) -> None:
    inner = ScriptedChatModel(steps=[ai(call("probe", n=1)), ai("inner answer")],
                              model_name=INNER)
    helper = Agent.from_graph(agent_graph(inner), name="helper", description="Helps.",
                              pricing={INNER: INNER_PRICE})
    root, model = boss(helper, pricing={"scripted": PRICE})
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = run(compile_agent(root), GO, cfg, is_async=is_async)

    assert results(out)[0].status is Status.COMPLETED
    child_cost = sum(cost_of(c.reply, INNER_PRICE) for c in inner.calls)
    root_cost = sum(cost_of(c.reply) for c in model.calls)
    child = out["usage"]["children"][0]
    assert child["model_calls"] == 2 and child_cost > 0
    assert child["cost"] == pytest.approx(child_cost)
    assert out["usage"]["cost"] == pytest.approx(root_cost)
    assert out["usage"]["totals"]["cost"] == pytest.approx(root_cost + child_cost)
    ends = [e for e in events if isinstance(e, ModelEnd) and e.path == ["root", "helper"]]
    assert [e.cost for e in ends] == pytest.approx(
        [cost_of(c.reply, INNER_PRICE) for c in inner.calls])


@pytest.mark.parametrize("is_async", [False, True])
def test_an_own_graph_inherits_its_parents_table_and_its_own_entries_win(
        is_async: bool) -> None:
    inherits = ScriptedChatModel(steps=[ai("a")], model_name=INNER)
    overrides = ScriptedChatModel(steps=[ai("b")], model_name=INNER)
    unknown = ScriptedChatModel(steps=[ai("c")], model_name="mystery-7b")
    heir = Agent.from_graph(state_graph(inherits), name="heir")
    own = Agent.from_graph(state_graph(overrides), name="own", pricing={INNER: (7.0, 11.0)})
    odd = Agent.from_graph(state_graph(unknown), name="odd")
    root, _ = boss(heir, own, odd, pricing={"scripted": PRICE, INNER: INNER_PRICE})
    out = run(compile_agent(root), GO, is_async=is_async)

    costs = {c["agent"]: c["cost"] for c in out["usage"]["children"]}
    assert costs["heir"] == pytest.approx(cost_of(inherits.calls[0].reply, INNER_PRICE))
    assert costs["own"] == pytest.approx(cost_of(overrides.calls[0].reply, (7.0, 11.0)))
    assert costs["odd"] is None  # a model no table nor genai-prices knows: unknown
    assert "cost" not in out["usage"]["totals"]  # not every call of the tree was priced


# -- Budget(max_cost) ---------------------------------------------------------------------------


def busy(messages: list[BaseMessage]) -> AIMessage:
    """Never stops on its own; each reply is ~83 output tokens (the worst case is 100)."""
    return ai("x" * 320, call("probe", n=len(messages)))


OUT_ONLY = {"scripted": (0.0, 0.0), INNER: (0.0, 1000.0)}
"""The parent's calls are free; an own graph's call costs up to 0.1 USD (100 tokens)."""


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("helpers", [1, 2])
def test_max_cost_stops_own_graphs_within_the_limit(is_async: bool, helpers: int) -> None:
    limit = 0.3
    inner = CappedModel(policy=busy, model_name=INNER)
    children = [Agent.from_graph(agent_graph(inner, f"helper{i}"), name=f"helper{i}",
                                 max_steps=50) for i in range(helpers)]
    root, _ = boss(*children, pricing=OUT_ONLY, budget=Budget(max_cost=limit))
    out = run(compile_agent(root), GO, is_async=is_async)

    spent = sum(cost_of(c.reply, OUT_ONLY[INNER]) for c in inner.calls)
    assert len(inner.calls) >= 3
    assert spent <= limit < spent + 0.1  # stopped when the next worst case did not fit
    assert out["usage"]["totals"]["cost"] == pytest.approx(spent)
    assert sum(c["cost"] for c in out["usage"]["children"]) == pytest.approx(spent)
    done = results(out)
    assert [r.status for r in done] == [Status.OVER_BUDGET] * helpers
    assert all(f"max_cost={limit}" in (r.error or "") for r in done)


@pytest.mark.parametrize("is_async", [False, True])
def test_an_unknown_price_under_max_cost_fails_that_child_only(is_async: bool) -> None:
    inner = ScriptedChatModel(steps=[ai("inner answer")], model_name="mystery-7b")
    helper = Agent.from_graph(agent_graph(inner), name="helper", description="Helps.")
    root, model = boss(helper, pricing={"scripted": PRICE}, budget=Budget(max_cost=1.0))
    out = run(compile_agent(root), GO, is_async=is_async)

    result = results(out)[0]
    assert result.status is Status.FAILED
    assert "unknown price" in (result.error or "")
    assert "agent 'helper'" in (result.error or "")
    assert "model 'mystery-7b'" in (result.error or "")
    assert inner.calls == []  # stopped before the call
    assert out["messages"][-1].content == "root done"
    assert len(model.calls) == 2


# -- a real ChatOpenAI's name and base URL reach the price ----------------------------------


def test_price_of_prices_by_name_and_url_as_model_price_does() -> None:
    local = ChatOpenAI(model="qwen", api_key="x", base_url="http://127.0.0.1:8080/v1")
    assert price_of("qwen", "http://127.0.0.1:8080/v1") == model_price(local)
    assert price_of("qwen", "http://127.0.0.1:8080/v1").source == "local"
    assert price_of("qwen", None, {"qwen": (1, 2)}).source == "pricing"
    assert price_of("gpt-4o-mini").source == "genai-prices"
    assert not price_of("gpt-4o-mini", "http://gpu-box:8000/v1").known
    assert not price_of(None).known


@pytest.mark.parametrize(("url", "error"), [
    ("http://gpu-box:8000/v1", "model 'qwen' has no known price"),  # refused before the call
    ("http://127.0.0.1:9/v1", "Connection error"),  # local: free, so the call is made
])
def test_a_chat_openai_in_an_own_graph_is_priced_by_its_base_url(url: str, error: str) -> None:
    chat = ChatOpenAI(model="qwen", api_key="x", base_url=url, max_retries=0, timeout=5)
    helper = Agent.from_graph(create_agent(chat, name="helper"), name="helper")
    root, _ = boss(helper, pricing={"scripted": PRICE}, budget=Budget(max_cost=1.0))
    out = run(compile_agent(root), GO, is_async=False)
    result = results(out)[0]
    assert result.status is Status.FAILED
    assert error in (result.error or "")
    assert out["messages"][-1].content == "root done"
