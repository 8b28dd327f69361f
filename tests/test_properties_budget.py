"""Property: budgets hold under any tree shape, parallelism and limits (sync and async).

Random three-level trees (root -> mid -> leaf) where every agent fans out a random number of
parallel tool calls per turn, under random limits on the root (and on ``mid``). Whatever the
interleaving: model calls made <= ``max_model_calls`` (also per ``mid`` invocation under its
own budget), replies whose tool calls ran <= ``max_tool_rounds``, and tokens spent exceed
``max_tokens`` by at most one call's reservation (its prompt estimate plus the model's
``max_tokens``); the run always ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool

from _properties_support import (
    GENERATED,
    SETTINGS,
    report_counts,  # noqa: F401  (autouse: prints the generated counts)
)
from subagents import Agent, Budget, compile_agent, observe
from subagents.events import BaseEvent, SubagentEnd, SubagentStart, ToolStart
from subagents.runtime.budget import prompt_tokens
from subagents.testing import ScriptedChatModel, ai, call

TIMEOUT = 30.0
MAX_OUT = 64
"""The test model's ``max_tokens``: every reply here is shorter."""
CHILD = {"root": "mid", "mid": "leaf"}


@tool
def probe(n: int, i: int) -> str:
    """Probe something."""
    return f"probed {n}.{i}"


class Model(ScriptedChatModel):
    """The scripted model with a ``max_tokens`` bound, as the budget reads it."""

    max_tokens: int = MAX_OUT


def policy_of(plan: dict[str, list[int]]) -> Any:
    """Turn t of an agent fans out ``plan[agent][t]`` parallel calls (delegations for root
    and mid, probes for leaf; 0: one probe), then it answers."""
    def reply(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        turn = sum(isinstance(m, AIMessage) for m in messages)
        script = plan.get(agent or "", [])
        if turn >= len(script):
            return ai(f"{agent} done")
        child, width = CHILD.get(agent or ""), script[turn]
        if child is None or width == 0:
            return ai(*[call("probe", n=turn, i=i) for i in range(max(width, 1))])
        return ai(*[call("task", agent=child, objective=f"{turn}.{i}") for i in range(width)])

    return reply


limits = st.builds(
    Budget,
    max_model_calls=st.none() | st.integers(0, 14),
    max_tool_rounds=st.none() | st.integers(0, 8),
    max_tokens=st.none() | st.integers(1, 600),
).filter(lambda b: b != Budget())
plans = st.fixed_dictionaries({
    "root": st.lists(st.integers(0, 4), min_size=1, max_size=3),
    "mid": st.lists(st.integers(0, 3), max_size=3),
    "leaf": st.lists(st.integers(1, 3), max_size=3),
})


def run(graph: Any, sync: bool, events: list[BaseEvent]) -> dict[str, Any]:
    _, cfg = observe(on_event=events.append)
    inputs = {"messages": [HumanMessage("go")]}
    if not sync:
        out: dict[str, Any] = asyncio.run(asyncio.wait_for(graph.ainvoke(inputs, cfg), TIMEOUT))
        return out
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        out = pool.submit(graph.invoke, inputs, cfg).result(timeout=TIMEOUT)
    return out


def rounds_run(model: Model, events: list[BaseEvent]) -> int:
    """Replies at least one of whose tool calls ran (a tool started, a child started)."""
    refused = {(tuple(e.path), e.tool_call_id) for e in events
               if isinstance(e, SubagentEnd) and e.refused}
    ran = {e.call_id for e in events if isinstance(e, ToolStart)}
    ran |= {e.tool_call_id for e in events if isinstance(e, SubagentStart)
            and (tuple(e.path), e.tool_call_id) not in refused}
    return sum(1 for c in model.calls
               if c.reply is not None and any(tc["id"] in ran for tc in c.reply.tool_calls))


def mids(usage: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in usage["children"] if c["agent"] == "mid"]


@settings(SETTINGS, max_examples=60)
@given(budget=limits, mid_calls=st.none() | st.integers(0, 4), plan=plans, sync=st.booleans())
def test_budgets_hold_under_any_parallelism(budget: Budget, mid_calls: int | None,
                                            plan: dict[str, list[int]], sync: bool) -> None:
    GENERATED["budget trees (sync)" if sync else "budget trees (async)"] += 1
    model = Model(policy=policy_of(plan))
    mid_budget = Budget(max_model_calls=mid_calls) if mid_calls is not None else None
    leaf = Agent(name="leaf", tools=[probe], max_steps=20)
    mid = Agent(name="mid", tools=[probe], subagents=[leaf], budget=mid_budget, max_steps=20)
    root = Agent(name="root", model=model, tools=[probe], subagents=[mid], budget=budget,
                 max_steps=20, max_subagent_depth=2)
    events: list[BaseEvent] = []
    out = run(compile_agent(root), sync, events)
    calls = model.calls
    if budget.max_model_calls is not None:
        assert len(calls) <= budget.max_model_calls
    if mid_calls is not None:
        assert all(m["totals"]["model_calls"] <= mid_calls for m in mids(out["usage"]))
    if budget.max_tool_rounds is not None:
        assert rounds_run(model, events) <= budget.max_tool_rounds
    if budget.max_tokens is not None:
        spent = sum(c.reply.usage_metadata["total_tokens"] for c in calls
                    if c.reply is not None and c.reply.usage_metadata)
        reservation = max((prompt_tokens(c.messages) + MAX_OUT for c in calls), default=0)
        assert spent <= budget.max_tokens + reservation
        if calls:  # every call but the last to start began under the limit
            assert spent - max(c.reply.usage_metadata["total_tokens"] for c in calls
                               if c.reply is not None and c.reply.usage_metadata
                               ) < budget.max_tokens
    assert out["usage"]["status"] in ("completed", "over_budget", "max_steps")
