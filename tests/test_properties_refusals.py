"""Properties of refusals: allow lists, depth and budget refuse before execution, and
every refused delegation has its ``subagent_start`` / refused ``subagent_end`` events.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.tools import tool

from _properties_support import (
    CHILD,
    EXECUTED,
    GENERATED,
    GUARD,
    SETTINGS,
    TASK_GRAPH,
    TURNS,
    RawModel,
    Refused,
    Turns,
    _nonce,
    answered_turns,
    arun,
    delegation,
    expect,
    objectives,
    probe,
    refused_events,
    report_counts,  # noqa: F401  (autouse: prints the generated counts)
    srun,
    tc,
    twins,
)
from _strategies import args_like, names, strings, values
from subagents import Agent, Budget, Status, compile_agent
from subagents.events import BaseEvent


@tool
def secret(x: str) -> str:
    """A tool only the 'holder' agent has (records every execution)."""
    EXECUTED.append(("secret", x))
    return x


# --------------------------------------------------------------------------- refusals

D_TURNS = Turns()
D_MODEL = RawModel(policy=D_TURNS.policy("top"))
LEAF = Agent(name="leaf")
HOLDER = Agent(name="holder", tools=[secret])
MID = Agent(name="mid", subagents=[LEAF])
DEPTH_GRAPH = compile_agent(Agent(name="top", model=D_MODEL, tools=[probe],
                                  subagents=[MID, HOLDER], max_subagent_depth=1, loop_guard=GUARD))
FLAT_TURNS = Turns()
FLAT_MODEL = RawModel(policy=FLAT_TURNS.policy("flat"))
FLAT_GRAPH = compile_agent(Agent(name="flat", model=FLAT_MODEL, tools=[probe],
                                 subagents=[Agent(name="leaf2")], max_subagent_depth=0,
                                 loop_guard=GUARD))
OBJ = {"objective": "do it"}
objective_args = args_like({"objective": objectives, "context": strings}) | st.just(OBJ)


def forbidden_for(allowed_tools: set[str], allowed_agents: set[str]) -> st.SearchStrategy[
        ToolCall]:
    """Calls outside an agent's allow list (tools, sub-agents, lifecycle, unknown names)."""
    tools = (st.sampled_from(["secret", "nap", "agent_status", "agent_await", "final_answer"])
             | names).filter(lambda n: n not in allowed_tools and n != "task"
                             and not n.startswith("task_"))
    agents = (st.sampled_from(["leaf", "top", "mid", "holder", "leaf2", "flat", "ghost"])
              | names).filter(lambda n: n not in allowed_agents)
    return st.one_of(
        st.builds(tc, tools, st.dictionaries(st.text(max_size=8), values, max_size=2)),
        st.builds(lambda a, args: tc("task", {**args, "agent": a}), agents, objective_args),
        st.builds(lambda a, args: tc(f"task_{a}", args),
                  st.sampled_from(["mid", "leaf", "holder", "top"]) | names, objective_args),
    )


def node_refusals(messages: list[BaseMessage]) -> Counter[Refused]:
    """The refusals of delegation calls in one agent's history (allow list, depth, duplicate:
    every delegation here that did not complete)."""
    out: Counter[Refused] = Counter()
    for _, answers in answered_turns(messages):
        for msg in answers.values():
            name = msg.name or ""
            if name == "task" or name.startswith("task_"):
                res = delegation(msg)
                if res.status is not Status.COMPLETED:
                    out[(msg.tool_call_id, res.agent or name, res.status.value)] += 1
    return out


DUPLICATE = "duplicate"
"""``refusals`` key of a call not run as a duplicate of an earlier call of its reply."""


def refusals(messages: list[BaseMessage]) -> Counter[str]:
    """Statuses of the refusal results in one agent's history (``DUPLICATE``: a duplicate)."""
    out: Counter[str] = Counter()
    for _, answers in answered_turns(messages):
        for msg in answers.values():
            if str(msg.content).startswith("Not run: duplicate of call "):
                out[DUPLICATE] += 1
            elif msg.name != "probe":
                res = delegation(msg)
                duplicate = "duplicate of call" in (res.error or "")
                out[DUPLICATE if duplicate else res.status.value] += 1
    return out


def firsts(calls: list[ToolCall]) -> tuple[list[ToolCall], int]:
    """The calls of one reply the runtime considers (the first of each identical set), and
    how many it answers as duplicates."""
    kept = [c for c, first in zip(calls, twins(calls), strict=True) if first is None]
    return kept, len(calls) - len(kept)


@SETTINGS
@given(top=st.lists(forbidden_for({"probe"}, {"mid", "holder"}), min_size=1, max_size=5),
       mid=st.lists(forbidden_for(set(), set()), min_size=1, max_size=5),
       via_mid=st.booleans())
async def test_allow_list_and_depth_refuse_before_execution(
        top: list[ToolCall], mid: list[ToolCall], via_mid: bool) -> None:
    """Out-of-list tools/agents and depth-0 delegation: refused in 100%, never executed."""
    # top's own forbidden calls, plus (via_mid) a valid delegation to mid, whose every call
    # is forbidden: depth 0 for task(leaf), unknown agents, tools it was not given.
    calls = list(top) + ([tc("task", {"agent": "mid", "objective": "m"}, "to_mid")]
                         if via_mid else [])
    D_TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    D_TURNS.by_agent = {"mid": [AIMessage(content="", tool_calls=list(mid))]}
    GENERATED["forbidden (allow list/depth)"] += len(top) + (len(mid) if via_mid else 0)
    start, executed = len(D_MODEL.log), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(DEPTH_GRAPH, events=events)
    log = D_MODEL.log[start:]
    ran = Counter(a for a, *_ in log)
    assert ran["leaf"] == ran["holder"] == 0, ran
    assert [x for x in EXECUTED[executed:] if x[0] == "secret"] == []
    got = refusals(out["messages"])
    if via_mid:
        assert got.pop(Status.COMPLETED.value) == 1
    top_firsts, top_twins = firsts(top)
    want_top = Counter(expect(c["name"], c["args"], root_tools={"probe"}, lifecycle=set(),
                              background=False, async_=True,
                              children={"task:mid": "mid", "task:holder": "holder"})
                       for c in top_firsts) + Counter({DUPLICATE: top_twins})
    assert got == want_top and sum(got.values()) == len(top)
    top_refused = refused_events(events, ("top",))
    assert top_refused == node_refusals(out["messages"])
    assert sum(top_refused.values()) == sum(
        c["name"] == "task" or c["name"].startswith("task_") for c in top)
    if via_mid:
        mid_input = next(msgs for a, _, msgs, _ in log if a == "mid" and len(msgs) > 1)
        mid_firsts, mid_twins = firsts(mid)
        want_mid = Counter(expect(c["name"], c["args"], root_tools=set(), lifecycle=set(),
                                  background=False, async_=True, depth=0,
                                  children={"task:leaf": "leaf"}) for c in mid_firsts
                           ) + Counter({DUPLICATE: mid_twins})
        assert refusals(mid_input) == want_mid and sum(want_mid.values()) == len(mid)
        assert refused_events(events, ("top", "mid")) == node_refusals(mid_input)
        assert Status.COMPLETED.value not in want_mid


@SETTINGS
@given(calls=st.lists(st.builds(lambda args: tc("task", {**args, "agent": "leaf2"}),
                                objective_args), min_size=1, max_size=4))
def test_depth_zero_root_refuses_task_sync(calls: list[ToolCall]) -> None:
    """A root with max_subagent_depth=0 asking ``task`` (sync invoke): all depth_exceeded."""
    GENERATED["forbidden depth-0 root (sync)"] += len(calls)
    FLAT_TURNS.turns = [AIMessage(content="", tool_calls=list(calls))]
    start = len(FLAT_MODEL.log)
    events: list[BaseEvent] = []
    out = srun(FLAT_GRAPH, events=events)
    assert Counter(a for a, *_ in FLAT_MODEL.log[start:])["leaf2"] == 0
    kept, dups = firsts(calls)
    assert refusals(out["messages"]) == Counter({Status.DEPTH_EXCEEDED.value: len(kept),
                                                 DUPLICATE: dups})
    got = refused_events(events, ("flat",))
    assert got == node_refusals(out["messages"])
    assert {(agent, status) for _, agent, status in got} == {("leaf2", "depth_exceeded")} | (
        {("leaf2", "failed")} if dups else set())
    assert sum(got.values()) == len(calls)


_budget_graphs: dict[int, tuple[Turns, RawModel, Any]] = {}


def budget_graph(limit: int) -> tuple[Turns, RawModel, Any]:
    if limit not in _budget_graphs:
        turns = Turns()
        model = RawModel(policy=turns.policy("thrifty"))
        graph = compile_agent(Agent(name="thrifty", model=model,
                                    subagents=[Agent(name="spender", model=CHILD)],
                                    budget=Budget(max_model_calls=limit)))
        _budget_graphs[limit] = (turns, model, graph)
    return _budget_graphs[limit]


@SETTINGS
@given(limit=st.integers(1, 4), sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4))
async def test_budget_refuses_every_delegation_beyond_it(limit: int, sizes: list[int]) -> None:
    """Budget(max_model_calls): delegations past the budget end over_budget, never run.

    While budget is left a turn delegates once (parallel delegations overshoot: see the
    test below); once it is spent, every delegation of the turn must be refused.
    """
    turns, model, graph = budget_graph(limit)
    used, plan, executes, refused = 0, [], 0, 0
    for k in sizes:
        if used >= limit:
            break
        used += 1
        k = 1 if used < limit else k
        plan.append(k)
        if used < limit:
            used, executes = used + 1, executes + 1
        else:
            refused += k
    turns.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "spender", "objective": f"spend {next(_nonce)}"})
        for _ in range(k)]) for k in plan]
    GENERATED["forbidden (budget)"] += sum(plan)
    start, before = len(model.log), len(CHILD.calls_by("spender"))
    out = await arun(graph)
    spent = len(CHILD.calls_by("spender")) - before
    assert spent == executes
    assert len(model.log) - start + spent <= limit
    got = refusals(out["messages"])
    assert got.get(Status.OVER_BUDGET.value, 0) == refused
    assert got.get(Status.COMPLETED.value, 0) == executes
    assert out["usage"]["totals"]["model_calls"] <= limit


# --------------------------------------------------------------------------- bugs found, now fixed


async def test_parallel_delegations_never_exceed_the_budget() -> None:
    turns, _, graph = budget_graph(2)
    turns.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "spender", "objective": f"spend {i}"}) for i in range(4)])]
    before = len(CHILD.calls_by("spender"))
    out = await arun(graph)
    spent = len(CHILD.calls_by("spender")) - before
    # root used 1 of 2 model calls: exactly one child may run, three must be over_budget
    assert spent == 1, f"{spent} children ran on a budget of one call"
    assert out["usage"]["totals"]["model_calls"] <= 2
    assert refusals(out["messages"])[Status.OVER_BUDGET.value] == 3


async def test_refusals_echoing_surrogate_names_parse() -> None:
    TURNS.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "gh\ud800st", "objective": "x"}, "s1"),
        tc("to\udfffol", {}, "s2")])]
    out = await arun(TASK_GRAPH)
    answers = answered_turns(out["messages"])[0][1]
    assert delegation(answers["s1"]).status is Status.UNKNOWN_AGENT
    assert delegation(answers["s2"]).status is Status.FORBIDDEN_TOOL
