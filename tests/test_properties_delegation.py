"""Properties of delegation with generated arguments: ``task`` and ``task_<name>`` tools
(one child with a pydantic input_schema); every call answered once, valid siblings intact.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, ToolCall, ToolMessage

from _properties_support import (
    CHILD,
    EXECUTED,
    GENERATED,
    GUARD,
    PER_AGENT_FIELDS,
    ROOT_MODEL,
    SETTINGS,
    TASK_FIELDS,
    TASK_GRAPH,
    TASK_ORACLE,
    TURNS,
    Query,
    RawModel,
    Turns,
    _nonce,
    answered_turns,
    arun,
    check_run,
    delegation,
    fuzz_call,
    probe,
    report_counts,  # noqa: F401  (autouse: prints the generated counts)
    sentinel_task,
    task_turn,
    tc,
)
from _strategies import strings
from subagents import Agent, Status, compile_agent
from subagents.events import BaseEvent

QUERY_FIELDS = {"query": strings, "limit": st.integers(-3, 120), "background": st.booleans()}


BOSS_TURNS = Turns()
BOSS_MODEL = RawModel(policy=BOSS_TURNS.policy("boss"))
WRITER = Agent(name="writer", model=CHILD)
SEARCHER = Agent(name="searcher", model=CHILD, input_schema=Query)
PER_AGENT_GRAPH = compile_agent(Agent(name="boss", model=BOSS_MODEL, tools=[probe],
                                      subagents=[WRITER, SEARCHER], delegation="per_agent",
                                      loop_guard=GUARD))
PER_AGENT_ORACLE: dict[str, Any] = {
    "root_tools": {"probe"}, "lifecycle": set(), "background": False,
    "children": {"task_writer": "writer", "task_searcher": "searcher"}}


@SETTINGS
@given(turns=st.lists(task_turn, min_size=1, max_size=2), sentinel_at=st.integers(0, 5),
       with_probe=st.booleans())
async def test_task_tool_answers_every_call_once(turns: list[list[ToolCall]], sentinel_at: int,
                                                 with_probe: bool) -> None:
    """``task`` with any arguments: typed results, one per call, valid siblings intact."""
    replies = []
    for calls in turns:
        calls = list(calls)
        calls.insert(sentinel_at % (len(calls) + 1), sentinel_task("beta"))
        if with_probe:
            calls.append(tc("probe", {"text": f"SENTINEL probe {next(_nonce)}"}))
        replies.append(AIMessage(content="", tool_calls=calls))
        GENERATED["task (async)"] += len(calls)
    TURNS.turns = replies
    start, before, executed = len(ROOT_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(TASK_GRAPH, events=events)
    check_run(out, ROOT_MODEL, "root", TASK_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    if with_probe:  # the valid probe sibling ran and returned its text (unless a repeat)
        assert any(str(m.content).startswith("SENTINEL probe") for m in out["messages"]
                   if isinstance(m, ToolMessage))


per_agent_turn = st.lists(fuzz_call({"task_writer": PER_AGENT_FIELDS,
                                     "task_searcher": QUERY_FIELDS,
                                     "task": TASK_FIELDS, "task_ghost": PER_AGENT_FIELDS,
                                     "probe": {"text": strings}}),
                          min_size=1, max_size=5)


@SETTINGS
@given(calls=per_agent_turn, sentinel_at=st.integers(0, 5))
async def test_per_agent_tools_answer_every_call_once(calls: list[ToolCall],
                                                      sentinel_at: int) -> None:
    """``task_<name>`` (one with a pydantic input_schema) with any arguments."""
    calls = list(calls)
    sentinel = tc("task_searcher", {"query": "SENTINEL q", "limit": 3}, "sent_q")
    calls.insert(sentinel_at % (len(calls) + 1), sentinel)
    calls.append(sentinel_task(tool="task_writer"))
    GENERATED["task_<name> (async)"] += len(calls)
    BOSS_TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    start, before, executed = len(BOSS_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(PER_AGENT_GRAPH, events=events)
    check_run(out, BOSS_MODEL, "boss", PER_AGENT_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    answer = next(m for m in out["messages"] if isinstance(m, ToolMessage)
                  and m.tool_call_id == "sent_q")
    assert delegation(answer).result == "searcher did SENTINEL q"


# --------------------------------------------------------------------------- bugs found, now fixed


_INPUT_TURNS = Turns()
_INPUT_GRAPH = compile_agent(Agent(
    name="hub", model=RawModel(policy=_INPUT_TURNS.policy("hub")),
    subagents=[Agent(name="finder", model=CHILD, input_schema=Query)]))


async def test_task_tool_reaches_a_child_with_input_schema() -> None:
    _INPUT_TURNS.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "finder", "objective": "find the config loader"}, "i1")])]
    before = len(CHILD.calls_by("finder"))
    out = await arun(_INPUT_GRAPH)
    res = delegation(answered_turns(out["messages"])[0][1]["i1"])
    assert res.status is Status.COMPLETED, res.error
    assert len(CHILD.calls_by("finder")) - before == 1
