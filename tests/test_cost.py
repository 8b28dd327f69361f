"""Money (#17 item 3): the cost of every model call, per node and rolled up, in events, and
``Budget(max_cost)`` enforced tree-wide with worst-case reservations."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.types import Command
from rich.console import Console

from subagents import (
    Agent,
    Budget,
    DelegationResult,
    Status,
    compile_agent,
    needs_approval,
    observe,
)
from subagents.checkpoints import memory_saver, sqlite_saver
from subagents.cli import replay_report, run_team, usage_table, usage_totals
from subagents.cli.render import usage_rows
from subagents.errors import SpecError, TeamFileError
from subagents.events import BaseEvent, ModelEnd
from subagents.runtime.budget import BudgetTracker, Reservation
from subagents.runtime.cost import UnpricedModelError, model_price
from subagents.runtime.scope import scope_of
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

PRICE = (1.0, 2.0)
"""USD per million input / output tokens of the scripted model in these tests."""


@tool
def probe(n: int) -> str:
    """Probe something."""
    return f"probed {n}"


def cost_of(reply: AIMessage | None, price: tuple[float, float] = PRICE) -> float:
    """What a scripted reply costs at ``price``, computed here from its usage."""
    assert reply is not None and reply.usage_metadata is not None
    usage = reply.usage_metadata
    return (usage["input_tokens"] * price[0] + usage["output_tokens"] * price[1]) / 1e6


def two_workers() -> ScriptedChatModel:
    c1 = call("task", agent="worker", objective="a")
    c2 = call("task", agent="worker", objective="b")
    return ScriptedChatModel(steps={
        "root": [ai(c1, c2), ai("done")],
        "worker": [ai(call("probe", n=1)), ai("w1"), ai("w2")],
    })


async def test_cost_per_node_rolled_up_and_in_model_end_events() -> None:
    model = two_workers()
    worker = Agent(name="worker", tools=[probe])
    root = Agent(name="root", model=model, subagents=[worker], pricing={"scripted": PRICE})
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    usage = out["usage"]
    root_cost = sum(cost_of(c.reply) for c in model.calls_by("root"))
    assert usage["cost"] == pytest.approx(root_cost) and root_cost > 0
    worker_costs = sorted(c["cost"] for c in usage["children"])
    assert sum(worker_costs) == pytest.approx(sum(cost_of(c.reply)
                                                  for c in model.calls_by("worker")))
    assert all(cost > 0 for cost in worker_costs)
    assert usage["totals"]["cost"] == pytest.approx(sum(cost_of(c.reply) for c in model.calls))
    ends = [e for e in events if isinstance(e, ModelEnd)]
    assert len(ends) == len(model.calls) == 5
    assert sorted(e.cost or 0 for e in ends) == pytest.approx(
        sorted(cost_of(c.reply) for c in model.calls))
    assert ModelEnd.model_validate(ends[0].model_dump(mode="json")).cost == ends[0].cost


async def test_an_unpriced_model_costs_none_and_totals_leave_cost_out() -> None:
    model = two_workers()
    root = Agent(name="root", model=model, subagents=[Agent(name="worker", tools=[probe])])
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    assert out["usage"]["cost"] is None
    assert "cost" not in out["usage"]["totals"]
    assert {e.cost for e in events if isinstance(e, ModelEnd)} == {None}


async def test_pricing_is_inherited_and_a_subagents_own_entries_win() -> None:
    c1 = call("task", agent="mid", objective="m")
    c2 = call("task", agent="leaf", objective="l")
    model = ScriptedChatModel(steps={"root": [ai(c1), ai("done")], "mid": [ai(c2), ai("m")],
                                     "leaf": [ai("l")]})
    leaf = Agent(name="leaf")
    mid = Agent(name="mid", subagents=[leaf], pricing={"scripted": (10.0, 20.0)},
                max_subagent_depth=1)
    root = Agent(name="root", model=model, subagents=[mid], max_subagent_depth=2,
                 pricing={"scripted": PRICE, "other": (5.0, 5.0)})
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    mid_usage = out["usage"]["children"][0]
    leaf_usage = mid_usage["children"][0]
    assert out["usage"]["cost"] == pytest.approx(
        sum(cost_of(c.reply) for c in model.calls_by("root")))
    assert mid_usage["cost"] == pytest.approx(
        sum(cost_of(c.reply, (10.0, 20.0)) for c in model.calls_by("mid")))
    assert leaf_usage["cost"] == pytest.approx(
        sum(cost_of(c.reply, (10.0, 20.0)) for c in model.calls_by("leaf")))


async def test_one_subagent_shared_by_two_parents_is_priced_by_each_parents_table() -> None:
    worker = Agent(name="worker")
    cheap = Agent(name="cheap", subagents=[worker], max_subagent_depth=1)
    dear = Agent(name="dear", subagents=[worker], max_subagent_depth=1,
                 pricing={"scripted": (100.0, 100.0)})
    model = ScriptedChatModel(steps={
        "root": [ai(call("task", agent="cheap", objective="c")),
                 ai(call("task", agent="dear", objective="d")), ai("done")],
        "cheap": [ai(call("task", agent="worker", objective="w")), ai("c")],
        "dear": [ai(call("task", agent="worker", objective="w")), ai("d")],
        "worker": [ai("w1"), ai("w2")],
    })
    root = Agent(name="root", model=model, subagents=[cheap, dear], max_subagent_depth=2,
                 pricing={"scripted": PRICE})
    out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})
    first, second = (mid["children"][0]["cost"] for mid in out["usage"]["children"])
    replies = [c.reply for c in model.calls_by("worker")]
    assert first == pytest.approx(cost_of(replies[0]))
    assert second == pytest.approx(cost_of(replies[1], (100.0, 100.0)))


def test_max_cost_with_an_unpriced_model_fails_at_compile() -> None:
    root = Agent(name="root", model=ScriptedChatModel(steps=[]),
                 budget=Budget(max_cost=1.0))
    with pytest.raises(UnpricedModelError, match=r"agent 'root': model 'scripted' has no "
                       r"known price.*Agent\(pricing=") as info:
        compile_agent(root)
    assert isinstance(info.value, SpecError)


def test_max_cost_names_the_unpriced_subagent_and_the_budget_owner() -> None:
    odd = Agent(name="odd", model=ScriptedChatModel(steps=[], model_name="mystery-7b"))
    root = Agent(name="root", model=ScriptedChatModel(steps=[]), subagents=[odd],
                 pricing={"scripted": PRICE}, budget=Budget(max_cost=1.0))
    with pytest.raises(UnpricedModelError, match=r"agent 'odd': model 'mystery-7b'.*agent "
                       r"'root''s budget has max_cost"):
        compile_agent(root)
    priced = Agent(name="root", model=ScriptedChatModel(steps=[]), subagents=[odd],
                   pricing={"scripted": PRICE, "mystery-7b": (0, 0)},
                   budget=Budget(max_cost=1.0))
    compile_agent(priced)  # priced now: compiles


def test_a_call_of_unknown_price_under_max_cost_is_refused_with_a_typed_error() -> None:
    tracker = BudgetTracker(Budget(max_cost=1.0))
    with pytest.raises(UnpricedModelError, match="unknown price"):
        tracker.reserve_call(lambda: 10)
    assert tracker.model_calls == 0
    assert isinstance(BudgetTracker(Budget()).reserve_call(lambda: 10), Reservation)


def busy_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root":
        return ai(call("task", agent="worker", objective=f"job {turns}"))
    return ai(call("probe", n=turns))


class CappedModel(ScriptedChatModel):
    """A scripted model with ``max_tokens``: a call's worst case is known exactly."""

    max_tokens: int = 100


OUT_ONLY = {"scripted": (0.0, 1000.0)}
"""Output tokens only: a call's worst case is 100 tokens x 1000 USD/M = 0.1 USD."""


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


WORKERS = 4


def fan_out_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    turns = sum(isinstance(m, AIMessage) for m in messages)
    if agent == "root":
        if turns == 0:
            return ai(*[call("task", agent="worker", objective=f"job {i}")
                        for i in range(WORKERS)])
        return ai("root done")
    return ai(call("probe", n=turns))


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


def test_models_are_priced_by_table_then_local_then_genai_prices() -> None:
    scripted = ScriptedChatModel(steps=[])
    assert not model_price(scripted).known
    assert model_price(scripted, {"scripted": (3, 4)}).cost(
        {"input_tokens": 1_000_000, "output_tokens": 500_000}) == pytest.approx(5.0)
    local = ChatOpenAI(model="qwen", api_key="x", base_url="http://127.0.0.1:8080/v1")
    assert model_price(local).source == "local"
    assert model_price(local).cost(None) == 0.0
    assert model_price(local).worst(10**6, 10**6) == 0.0
    gpt = model_price(ChatOpenAI(model="gpt-4o-mini", api_key="x"))
    assert gpt.source == "genai-prices" and gpt.input is not None and gpt.output is not None
    usage = {"input_tokens": 1000, "output_tokens": 500,
             "input_token_details": {"cache_read": 800}}
    cost = gpt.cost(usage)
    assert cost is not None
    assert 0 < cost < (1000 * gpt.input + 500 * gpt.output) / 1e6  # cached input is cheaper
    bound = model_price(ChatOpenAI(model="gpt-4o-mini", api_key="x").bind_tools([probe]))
    assert bound.source == "genai-prices"


def test_team_file_pricing_prices_the_tree_and_bad_prices_name_their_line(
        tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text("""\
agents:
  - name: dev
    pricing: {scripted: [1, 2]}
    budget: {max_cost: 1.0}
    subagents: [search]
  - name: search
""")
    model = ScriptedChatModel(steps={"dev": [ai(call("task", agent="search", objective="s")),
                                             ai("done")], "search": [ai("found")]})
    out = compile_agent(load_team(team), model=model).invoke(
        {"messages": [HumanMessage("go")]})
    assert out["usage"]["totals"]["cost"] == pytest.approx(
        sum(cost_of(c.reply) for c in model.calls))
    assert out["usage"]["children"][0]["cost"] == pytest.approx(
        cost_of(model.calls_by("search")[0].reply))
    team.write_text(team.read_text().replace("pricing: {scripted: [1, 2]}",
                                             "pricing: {other: [1, 2]}"))
    with pytest.raises(UnpricedModelError, match="model 'scripted'"):
        compile_agent(load_team(team), model=ScriptedChatModel(steps=[]))
    team.write_text(team.read_text().replace("[1, 2]", "[1, -2]"))
    with pytest.raises(TeamFileError, match=r"team.yaml:3: agent 'dev': field 'pricing': "
                       r"price of 'other' must be"):
        load_team(team)


async def test_cli_usage_table_shows_cost_per_agent_and_the_total() -> None:
    model = ScriptedChatModel(steps={"dev": [ai(call("task", agent="search", objective="s")),
                                             ai("done")], "search": [ai("found")]})
    dev = Agent(name="dev", subagents=[Agent(name="search")], pricing={"scripted": PRICE})
    events: list[BaseEvent] = []
    report = await run_team(dev, "go", model=model, on_event=events.append)
    rows, total = usage_rows(report.tree), usage_totals(report.tree)
    assert [r.cost for r in rows] == pytest.approx(
        [sum(cost_of(c.reply) for c in model.calls_by(a)) for a in ("dev", "search")])
    assert total.cost == pytest.approx(sum(cost_of(c.reply) for c in model.calls))
    buffer = io.StringIO()
    Console(file=buffer, width=140, color_system=None).print(usage_table(report.tree))
    lines = buffer.getvalue().splitlines()
    assert "cost $" in next(line for line in lines if "agent" in line)
    cells = {line.split()[0]: line.split()[-1] for line in lines
             if line.split() and line.split()[0] in ("dev", "dev/search", "total")}
    assert cells == {"dev": f"{rows[0].cost:,.6f}", "dev/search": f"{rows[1].cost:,.6f}",
                     "total": f"{total.cost:,.6f}"}
    replayed = replay_report(events)  # the same costs from the events alone
    assert [n.cost for n in replayed.tree.walk()] == pytest.approx([r.cost for r in rows])


async def test_cli_usage_table_has_no_cost_column_when_nothing_is_priced() -> None:
    model = ScriptedChatModel(steps=[ai("done")])
    report = await run_team(Agent(name="dev"), "go", model=model)
    assert usage_totals(report.tree).cost is None
    buffer = io.StringIO()
    Console(file=buffer, width=140, color_system=None).print(usage_table(report.tree))
    assert "cost" not in buffer.getvalue()


async def test_an_own_graphs_model_call_under_max_cost_fails_that_child_only() -> None:
    inner = ScriptedChatModel(steps=[ai("inner answer")])
    helper = Agent.from_graph(create_agent(inner, tools=[probe], name="helper"),
                              name="helper", description="Helps.")
    model = ScriptedChatModel(steps={"root": [ai(call("task", agent="helper", objective="x")),
                                              ai("root done")]})
    root = Agent(name="root", model=model, subagents=[helper], pricing={"scripted": PRICE},
                 budget=Budget(max_cost=1.0))
    out = await asyncio.wait_for(
        compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}), 20)
    result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert result.status is Status.FAILED
    assert "unknown price" in (result.error or "")
    assert inner.calls == []
    assert out["messages"][-1].content == "root done"


@pytest.mark.parametrize("saver", ["memory", "sqlite"])
def test_max_cost_counts_across_approval_resumes(saver: str, tmp_path: Path) -> None:
    def policy(messages: list[BaseMessage]) -> AIMessage:
        return ai(call("careful", n=sum(isinstance(m, AIMessage) for m in messages)))

    model = CappedModel(policy=policy)
    limit = 0.1075  # 3 calls of 0.003 USD fit beside a 0.1 USD worst case, not 4
    root = Agent(name="root", model=model, tools=[needs_approval(careful)], max_steps=50,
                 pricing=OUT_ONLY, budget=Budget(max_cost=limit))
    cfg = {"configurable": {"thread_id": f"cost-resume-{saver}"}}
    with (sqlite_saver(tmp_path / "cp.sqlite") if saver == "sqlite"
          else contextlib.nullcontext(memory_saver())) as cp:
        graph = compile_agent(root, checkpointer=cp)
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
