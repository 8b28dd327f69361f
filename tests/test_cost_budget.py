"""Money (#17 item 3): ``Budget(max_cost)`` enforced tree-wide with worst-case reservations:
sequential, parallel children, a property test of the tracker, resumes (own graphs:
``tests/test_cost_foreign.py``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from _cost_support import OUT_ONLY, CappedModel, cost_of, probe
from _fan_out import WORKERS, fan_out_policy
from subagents import (
    Agent,
    Budget,
    DelegationResult,
    Status,
    compile_agent,
    needs_approval,
)
from subagents.runtime.budget import BudgetTracker, Reservation
from subagents.runtime.scope import scope_of
from subagents.testing import ai, call


def busy_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root":
        return ai(call("task", agent="worker", objective=f"job {turns}"))
    return ai(call("probe", n=turns))


@pytest.mark.parametrize("limit", [0.05, 0.3, 1.0])
async def test_max_cost_stops_a_tree_within_the_limit(limit: float) -> None:
    model = CappedModel(policy=busy_policy)
    worker = Agent(name="worker", tools=[probe], max_steps=50)
    root = Agent(name="root", model=model, subagents=[worker], max_steps=50,
                 pricing=OUT_ONLY, budget=Budget(max_cost=limit))
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    spent = sum(cost_of(c.reply, OUT_ONLY["scripted"]) for c in model.calls)
    assert spent <= limit < spent + 0.1  # stopped when the next worst case did not fit
    assert out["usage"]["totals"]["cost"] == pytest.approx(spent)
    assert out["usage"]["status"] == "over_budget"
    assert f"max_cost={limit}" in str(out["messages"][-1].content)
    if limit < 0.1:  # not even the first call fits
        assert model.calls == []




class FanOutModel(CappedModel):
    """Checks at every call that spent + reserved <= max_cost; holds the workers' first
    calls until all are in theirs or no further call fits (so they overlap)."""

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._arrived = 0
        self._all_in = asyncio.Event()
        self._seen: list[tuple[float, int]] = []
        self._seen_lock = threading.Lock()

    @property
    def seen(self) -> list[tuple[float, int]]:
        """(spent + reserved USD, calls in flight) of the root budget at each call."""
        return list(self._seen)

    def _check(self) -> BudgetTracker:
        scope = scope_of(var_child_runnable_config.get())
        tracker = scope.budget if scope is not None else None
        assert tracker is not None and tracker.limits.max_cost is not None
        with self._seen_lock:
            self._seen.append((tracker.cost + tracker.reserved_cost, tracker.in_flight))
        return tracker

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kwargs: Any) -> Any:
        self._check()
        return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> Any:
        tracker = self._check()
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        if agent == "worker" and not any(isinstance(m, AIMessage) for m in messages):
            self._arrived += 1
            full = tracker.cost + tracker.reserved_cost + 0.1 > (tracker.limits.max_cost or 0)
            if self._arrived == WORKERS or full:
                self._all_in.set()
            await self._all_in.wait()
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_parallel_children_never_overshoot_max_cost(mode: str) -> None:
    limit = 0.35
    model = FanOutModel(policy=fan_out_policy)
    worker = Agent(name="worker", tools=[probe], max_steps=50)
    root = Agent(name="root", model=model, subagents=[worker], max_steps=50,
                 pricing=OUT_ONLY, budget=Budget(max_cost=limit))
    graph = compile_agent(root)
    inputs = {"messages": [HumanMessage("go")]}
    out = (await asyncio.wait_for(graph.ainvoke(inputs), 20) if mode == "async"
           else await asyncio.to_thread(graph.invoke, inputs))
    spent = sum(cost_of(c.reply, OUT_ONLY["scripted"]) for c in model.calls)
    assert spent <= limit < spent + 0.1
    assert all(claimed <= limit + 1e-12 for claimed, _ in model.seen)
    if mode == "async":
        assert max(n for _, n in model.seen) >= 2  # the workers' calls overlapped
    results = [DelegationResult.from_message(m) for m in out["messages"]
               if isinstance(m, ToolMessage)]
    assert len(results) == WORKERS
    assert {r.status for r in results} == {Status.OVER_BUDGET}
    assert all("max_cost=0.35" in (r.error or "") for r in results)


@settings(max_examples=60, deadline=None)
@given(limit=st.floats(0.0, 1.0), worst=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=30),
       share=st.lists(st.floats(0.0, 1.0), min_size=30, max_size=30),
       settle_first=st.lists(st.booleans(), min_size=30, max_size=30))
def test_reservations_keep_spent_within_max_cost(limit: float, worst: list[float],
                                                 share: list[float],
                                                 settle_first: list[bool]) -> None:
    """Any order of reservations and settlements (each call costing at most its worst case)
    keeps spent + reserved <= max_cost, in the root and a child tracker alike."""
    root = BudgetTracker(Budget(max_cost=limit))
    child = BudgetTracker(Budget(), above=lambda: root)
    held: list[Reservation] = []
    for i, w in enumerate(worst):
        if settle_first[i] and held:
            res = held.pop(0)
            res.settle(0, res.cost * share[i])
        with_room = root.cost < limit and root.cost + root.reserved_cost + w <= limit
        got = child._try_call(child.chain(), 0, w)  # one attempt (reserve_call would wait)
        if isinstance(got, Reservation):
            assert with_room
            held.append(got)
        else:
            assert not with_room
        assert root.cost + root.reserved_cost <= limit + 1e-12
        assert child.cost == root.cost
    for res in held:
        res.settle(0, None)  # unknown: the worst case counts
    assert root.cost <= limit + 1e-12 and root.reserved_cost == 0 and root.in_flight == 0


def test_max_cost_counts_across_approval_resumes(saver: BaseCheckpointSaver[Any]) -> None:
    def policy(messages: list[BaseMessage]) -> AIMessage:
        return ai(call("careful", n=sum(isinstance(m, AIMessage) for m in messages)))

    model = CappedModel(policy=policy)
    limit = 0.1075  # 3 calls of 0.003 USD fit beside a 0.1 USD worst case, not 4
    root = Agent(name="root", model=model, tools=[needs_approval(careful)], max_steps=50,
                 pricing=OUT_ONLY, budget=Budget(max_cost=limit))
    cfg: RunnableConfig = {"configurable": {"thread_id": "cost-resume"}}
    graph = compile_agent(root, checkpointer=saver)
    out = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    pauses = 0
    while "__interrupt__" in out and pauses < 10:
        pauses += 1
        out = graph.invoke(Command(resume=True), cfg)
    spent = sum(cost_of(c.reply, OUT_ONLY["scripted"]) for c in model.calls)
    assert len(model.calls) == pauses == 3
    assert spent <= limit < spent + 0.1
    assert f"max_cost={limit}" in str(out["messages"][-1].content)


@tool
def careful(n: int) -> str:
    """Do something a human approves first."""
    return f"careful {n}"
