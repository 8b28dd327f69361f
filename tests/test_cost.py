"""Money (#17 item 3): the cost of every model call, per node and rolled up, in events, in
team files and the CLI; inherited price tables; unpriced models under ``max_cost`` refused
(enforcing ``max_cost``: test_cost_budget.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from rich.console import Console

from _cost_support import PRICE, cost_of, probe
from subagents import (
    Agent,
    Budget,
    compile_agent,
    observe,
)
from subagents.cli import replay_report, run_team, usage_table, usage_totals
from subagents.cli.render import usage_rows
from subagents.errors import SpecError, TeamFileError
from subagents.events import BaseEvent, ModelEnd
from subagents.runtime.budget import BudgetTracker, Reservation
from subagents.runtime.cost import UnpricedModelError, model_price
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call


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
    assert gpt.cost({"input_tokens": -5, "output_tokens": 1}) is None  # not a usage: no cost
    bound = model_price(ChatOpenAI(model="gpt-4o-mini", api_key="x").bind_tools([probe]))
    assert bound.source == "genai-prices"
    hosted = ChatOpenAI(model="gpt-4o-mini", api_key="x", base_url="http://gpu-box:8000/v1")
    assert not model_price(hosted).known  # a server genai-prices knows no provider of


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


async def test_cli_usage_table_has_no_cost_column_for_free_models() -> None:
    model = ScriptedChatModel(steps=[ai("done")])
    report = await run_team(Agent(name="dev", pricing={"scripted": (0.0, 0.0)}), "go",
                            model=model)
    assert usage_totals(report.tree).cost == 0
    buffer = io.StringIO()
    Console(file=buffer, width=140, color_system=None).print(usage_table(report.tree))
    assert "cost" not in buffer.getvalue()
