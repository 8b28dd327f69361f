"""Budgets under concurrency, at the ``max_seconds`` deadline and across resumes.

Each overshoot is reproduced deterministically: the workers' model calls wait at a barrier
until every worker is inside its call (or until no further call could start: the token
limit is fully reserved), so on a runtime that only checks limits before a call, all of
them pass the check before any of them is counted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, RetryPolicy
from pydantic import BaseModel

from _fan_out import WORKERS, fan_out_policy
from _stuck import stuck_policy, stuck_root
from subagents import (
    Agent,
    Budget,
    DelegationResult,
    Status,
    compile_agent,
    needs_approval,
    observe,
)
from subagents.events import BaseEvent, SubagentEnd
from subagents.runtime.budget import prompt_tokens
from subagents.runtime.scope import scope_of
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]

MAX_OUT = 8
"""``max_tokens`` of the test model: the output tokens a call reserves."""
RUN_TIMEOUT = 20.0
probed: list[int] = []


@tool
def probe(n: int) -> str:
    """Probe something."""
    probed.append(n)
    return f"probed {n}"


class BarrierModel(ScriptedChatModel):
    """Holds each worker's first call until all WORKERS are in theirs, or until no other
    call could start before one settles (the tree's calls or tokens are fully reserved)."""

    max_tokens: int = MAX_OUT

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._arrived = 0
        self._all_in = asyncio.Event()

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> Any:
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        if agent == "worker" and not any(isinstance(m, AIMessage) for m in messages):
            self._arrived += 1
            if self._arrived == WORKERS or _budget_full():
                self._all_in.set()
            await self._all_in.wait()
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


def _budget_full() -> bool:
    """No further model call could start now: the calls or the tokens are fully reserved."""
    scope = scope_of(var_child_runnable_config.get())
    tracker = scope.budget if scope is not None else None
    while tracker is not None:
        lim = tracker.limits
        if lim.max_model_calls is not None and tracker.model_calls >= lim.max_model_calls:
            return True
        reserved = getattr(tracker, "reserved", 0)
        if lim.max_tokens is not None and tracker.tokens + reserved >= lim.max_tokens:
            return True
        tracker = tracker.up()
    return False


async def run_fan_out(budget: Budget) -> tuple[dict[str, Any], BarrierModel]:
    model = BarrierModel(policy=fan_out_policy)
    worker = Agent(name="worker", tools=[probe], max_steps=50)
    root = Agent(name="root", model=model, subagents=[worker], budget=budget, max_steps=50)
    out = await asyncio.wait_for(compile_agent(root).ainvoke(
        {"messages": [HumanMessage("go")]}), RUN_TIMEOUT)
    return out, model


async def test_parallel_workers_never_overshoot_max_tool_rounds() -> None:
    probed.clear()
    out, model = await run_fan_out(Budget(max_tool_rounds=2))
    assert len(probed) == 1  # the root's round plus one worker's: 2
    results = [DelegationResult.from_message(m) for m in out["messages"]
               if isinstance(m, ToolMessage)]
    assert {r.status for r in results} == {Status.OVER_BUDGET}
    refused = [r for r in results if "max_tool_rounds=2" in (r.error or "")]
    assert len(refused) == WORKERS  # each worker ended on the exhausted rounds
    worker_replies = [c for c in model.calls_by("worker") if c.reply and c.reply.tool_calls]
    assert len(worker_replies) >= 2  # replies beyond the budget: their calls were not run
    assert out["usage"]["status"] == "over_budget"
    assert "max_tool_rounds=2" in str(out["messages"][-1].content)


async def test_parallel_workers_never_overshoot_max_model_calls() -> None:
    out, model = await run_fan_out(Budget(max_model_calls=3))
    assert len(model.calls) == 3
    assert out["usage"]["totals"]["model_calls"] == 3


async def test_parallel_workers_spend_at_most_one_call_over_max_tokens() -> None:
    out, model = await run_fan_out(Budget(max_tokens=45))
    spent = [c.reply.usage_metadata["total_tokens"] for c in model.calls
             if c.reply and c.reply.usage_metadata]
    assert spent[0] == 43  # the root's call: the workers start under the limit
    # one call may cross the limit (it started while spent + in flight < limit), by no more
    # than its reservation (prompt estimate + max_tokens)
    reservation = max(prompt_tokens(c.messages) + MAX_OUT for c in model.calls)
    assert 45 <= sum(spent) <= 45 + reservation
    assert out["usage"]["status"] == "over_budget"


# --------------------------------------------------------------------------- max_seconds


class StuckModel(ScriptedChatModel):
    """Replies normally, except that the agents in ``stuck`` never get an answer."""

    stuck: frozenset[str] = frozenset()

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> Any:
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        if agent in self.stuck:
            await asyncio.Event().wait()  # never set: only the deadline ends this call
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


@tool
async def stall() -> str:
    """Wait for something that never happens."""
    await asyncio.Event().wait()
    return "never"


async def run_stuck(stuck: set[str], root_tools: list[Any]) -> dict[str, Any]:
    root = stuck_root(StuckModel(policy=stuck_policy, stuck=frozenset(stuck)), root_tools)
    out: dict[str, Any] = await asyncio.wait_for(compile_agent(root).ainvoke(
        {"messages": [HumanMessage("go")]}), RUN_TIMEOUT)
    return out


async def test_max_seconds_cancels_a_model_call_in_flight() -> None:
    out = await run_stuck({"root"}, [])
    assert out["usage"]["status"] == "over_budget"
    text = str(out["messages"][-1].content)
    assert "max_seconds=0.3" in text and "during a model call" in text


async def test_max_seconds_cancels_tool_calls_and_sub_agents_in_flight() -> None:
    out = await run_stuck({"worker"}, [stall])
    assert out["usage"]["status"] == "over_budget"
    answers = {m.name: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert answers["stall"].status == "error"
    assert "max_seconds=0.3" in str(answers["stall"].content)
    worker = DelegationResult.from_message(answers["task"])
    assert worker.status is Status.OVER_BUDGET and "max_seconds=0.3" in (worker.error or "")
    assert "max_seconds=0.3" in str(out["messages"][-1].content)


# --------------------------------------------------------------------------- resumes

RESUMES = 10


@tool
def careful(n: int) -> str:
    """Do something a human approves first."""
    return f"careful {n}"


def approval_policy(looper: str) -> Any:
    """The root delegates once; the agent named ``looper`` calls ``careful`` forever."""
    def reply(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        turns = sum(isinstance(m, AIMessage) for m in messages)
        if agent == looper:
            return ai(call("careful", n=turns))
        if agent == "root" and turns == 0:
            return ai(call("task", agent="worker", objective="w"))
        return ai(f"{agent} done")

    return reply


def approval_team(looper: str) -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(policy=approval_policy(looper))
    tools = [needs_approval(careful)]
    worker = Agent(name="worker", tools=tools if looper == "worker" else [], max_steps=50)
    root = Agent(name="root", model=model, tools=tools if looper == "root" else [],
                 subagents=[worker], budget=Budget(max_model_calls=3), max_steps=50)
    return root, model


async def approve_until_done(graph: Any, thread: str) -> tuple[dict[str, Any], int]:
    cfg = {"configurable": {"thread_id": thread}}
    out: dict[str, Any] = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
    pauses = 0
    while "__interrupt__" in out and pauses < RESUMES:
        pauses += 1
        out = await graph.ainvoke(Command(resume=True), cfg)
    return out, pauses



def approve_until_done_sync(graph: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """:func:`approve_until_done` for ``invoke``, on the thread of ``cfg``."""
    out: dict[str, Any] = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    pauses = 0
    while "__interrupt__" in out and pauses < RESUMES:
        pauses += 1
        out = graph.invoke(Command(resume=True), cfg)
    return out, pauses

ALL_SAVERS = pytest.mark.savers("memory", "sqlite", "postgres")


@ALL_SAVERS
async def test_budget_counts_across_approval_resumes_of_the_root(async_saver: Saver) -> None:
    root, model = approval_team("root")
    out, pauses = await approve_until_done(compile_agent(root, checkpointer=async_saver),
                                           "budget-resume-root")
    assert len(model.calls) == 3 and pauses == 3
    assert "__interrupt__" not in out
    assert "max_model_calls=3 (used 3)" in str(out["messages"][-1].content)


@ALL_SAVERS
async def test_budget_counts_across_approval_resumes_inside_a_sub_agent(
        async_saver: Saver) -> None:
    root, model = approval_team("worker")
    out, pauses = await approve_until_done(compile_agent(root, checkpointer=async_saver),
                                           "budget-resume-child")
    assert len(model.calls) == 3 and pauses == 2  # root 1, worker 2 (each then paused)
    assert "__interrupt__" not in out
    result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert result.status is Status.OVER_BUDGET


@ALL_SAVERS
def test_budget_counts_across_resumes_sync(saver: Saver) -> None:
    root, model = approval_team("root")
    cfg = {"configurable": {"thread_id": "budget-resume-sync"}}
    graph = compile_agent(root, checkpointer=saver)
    out, pauses = approve_until_done_sync(graph, cfg)
    assert len(model.calls) == 3 and pauses == 3
    assert "max_model_calls=3 (used 3)" in str(out["messages"][-1].content)


class Report(BaseModel):
    """A structured answer (the looping root never gives one: its budget ends it)."""

    text: str


@ALL_SAVERS
def test_budget_counts_across_resumes_of_a_structured_root(saver: Saver) -> None:
    """An agent with an output schema checkpoints its spent counters too (its state had no
    ``budget_spent`` channel, so each resume started the budget from zero)."""
    model = ScriptedChatModel(policy=approval_policy("root"))
    root = Agent(name="root", model=model, tools=[needs_approval(careful)], output_schema=Report,
                 budget=Budget(max_model_calls=3), max_steps=50)
    cfg = {"configurable": {"thread_id": "budget-resume-structured"}}
    graph = compile_agent(root, checkpointer=saver)
    _, pauses = approve_until_done_sync(graph, cfg)
    assert len(model.calls) == 3 and pauses == 3
    assert graph.get_state(cfg).values["budget_spent"]["model_calls"] == 3


def nested_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """The root sends WORKERS workers; each worker delegates to a leaf forever."""
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "worker":
        return ai(call("task", agent="leaf", objective=f"leaf job {turns}"))
    if agent == "leaf":
        return ai("leaf done")
    return fan_out_policy(messages, agent)


async def test_delegations_of_a_reply_beyond_the_rounds_are_answered_over_budget() -> None:
    model = BarrierModel(policy=nested_policy)
    worker = Agent(name="worker", subagents=[Agent(name="leaf")], max_steps=50)
    root = Agent(name="root", model=model, subagents=[worker], budget=Budget(max_tool_rounds=2),
                 max_steps=50, max_subagent_depth=2)
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    await asyncio.wait_for(compile_agent(root).ainvoke(
        {"messages": [HumanMessage("go")]}, cfg), RUN_TIMEOUT)
    ends = [e for e in events if isinstance(e, SubagentEnd) and e.agent == "leaf"]
    ran = [e for e in ends if not e.refused]
    unrun = [e for e in ends if e.refused]
    assert len(ran) == 1  # the root's round, then one worker's
    assert len(unrun) == WORKERS - 1
    assert all(e.status is Status.OVER_BUDGET and "max_tool_rounds=2" in (e.error or "")
               for e in unrun)
    assert model.calls_by("leaf") == []  # the rounds are spent: no model call starts


# --------------------------------------------------------------------------- retries


class Flake(Exception):
    """A transient model failure."""


@tool
def ping(x: int) -> str:
    """Ping."""
    return f"pong {x}"


def flaky_policy() -> Any:
    """The root delegates once; the child makes one tool round, then its model raises once,
    then (attempt 2) it answers: 5 model calls in all, counting the one that raised."""
    seen = {"child": 0}

    def reply(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        if agent == "root":
            if isinstance(messages[-1], HumanMessage):
                return ai(call("task", agent="kid", objective="do it"))
            return ai("root done")
        seen["child"] += 1
        if seen["child"] == 1:
            return ai(call("ping", x=1))
        if seen["child"] == 2:
            raise Flake("flake")
        return ai("kid done")

    return reply


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retried_childs_failed_attempt_is_counted_once(persistent: bool, mode: str) -> None:
    """A retry on a persistent child's thread finds the failed attempt's checkpointed counters:
    they were added to the budget a second time (a 5-call run stopped at max_model_calls=5)."""
    kid = Agent(name="kid", tools=[ping], persistent=persistent,
                retry=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False,
                                  retry_on=Flake))
    root = Agent(name="root", model=ScriptedChatModel(policy=flaky_policy()), subagents=[kid],
                 budget=Budget(max_model_calls=5))
    graph = compile_agent(root, checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": f"retry-{persistent}-{mode}"}}
    inp = {"messages": [HumanMessage("go")]}
    out = graph.invoke(inp, cfg) if mode == "sync" else asyncio.run(graph.ainvoke(inp, cfg))
    assert out["messages"][-1].content == "root done"
    spent = graph.get_state(cfg).values["budget_spent"]
    assert (spent["model_calls"], spent["tool_rounds"]) == (5, 2)
