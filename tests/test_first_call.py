"""``Agent.first_call``: a task's first step is a tool call the runtime makes, not the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from subagents import Agent, Budget, FirstCall, SpecError, Status, compile_agent
from subagents.events import ToolStart
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

SEARCHED: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    SEARCHED.clear()


@tool
def search(query: str, limit: int = 3) -> str:
    """Search the notes."""
    SEARCHED.append(query)
    return f"found {limit} notes about: {query}"


def searcher(model: ScriptedChatModel, **fields: object) -> Agent:
    return Agent(name="searcher", model=model, tools=[search],
                 first_call=FirstCall(tool="search", args={"query": "{task}", "limit": 2}),
                 **fields)


def test_the_first_step_runs_the_tool_with_the_task_before_any_model_call() -> None:
    model = ScriptedChatModel(steps=[ai("the notes say so")])
    out = compile_agent(searcher(model)).invoke({"messages": [HumanMessage("where is X?")]})
    assert SEARCHED == ["where is X?"]
    assert len(model.calls) == 1  # the opening call is no model call
    seen = model.calls[0].messages
    assert isinstance(seen[-1], ToolMessage)
    assert seen[-1].content == "found 2 notes about: where is X?"
    opening = next(m for m in out["messages"] if isinstance(m, AIMessage))
    assert opening.name == "searcher" and opening.tool_calls[0]["name"] == "search"
    assert out["messages"][-1].content == "the notes say so"


def test_a_delegated_child_opens_with_its_objective_and_the_parent_reads_its_answer() -> None:
    model = ScriptedChatModel(steps={
        "lead": [ai(call("task", agent="searcher", objective="find the timeout")), ai("done")],
        "searcher": [ai("timeout is 5 s")],
    })
    lead = Agent(name="lead", model=model, subagents=[searcher(model)])
    out = compile_agent(lead).invoke({"messages": [HumanMessage("go")]})
    assert SEARCHED == ["find the timeout"]
    assert [c.agent for c in model.calls] == ["lead", "searcher", "lead"]
    answer = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert "timeout is 5 s" in str(answer.content)


def test_the_model_can_go_on_calling_tools_after_the_first_call() -> None:
    model = ScriptedChatModel(steps=[ai(call("search", query="more")), ai("enough")])
    compile_agent(searcher(model)).invoke({"messages": [HumanMessage("topic")]})
    assert SEARCHED == ["topic", "more"]


def test_the_first_call_is_a_step_and_a_tool_round_of_the_budget() -> None:
    model = ScriptedChatModel(steps=[ai("answer from the tool result")])
    out = compile_agent(searcher(model, max_steps=2)).invoke(
        {"messages": [HumanMessage("q")]})
    assert SEARCHED == ["q"] and out["messages"][-1].content == "answer from the tool result"
    no_round = ScriptedChatModel(steps=[])
    out = compile_agent(searcher(no_round, budget=Budget(max_tool_rounds=0))).invoke(
        {"messages": [HumanMessage("q")]})
    assert SEARCHED == ["q"] and no_round.calls == []
    assert out["usage"]["status"] == Status.OVER_BUDGET


def test_with_one_step_the_model_answers_and_no_tool_runs() -> None:
    model = ScriptedChatModel(steps=[ai("straight answer")])
    out = compile_agent(searcher(model, max_steps=1)).invoke({"messages": [HumanMessage("q")]})
    assert SEARCHED == [] and out["messages"][-1].content == "straight answer"


def test_a_persistent_history_opens_every_new_task() -> None:
    model = ScriptedChatModel(steps=[ai("first"), ai("second")])
    graph = compile_agent(searcher(model), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [HumanMessage("one")]}, config)
    graph.invoke({"messages": [HumanMessage("two")]}, config)
    assert SEARCHED == ["one", "two"]


def test_the_first_call_waits_for_approval_like_any_call() -> None:
    model = ScriptedChatModel(steps=[ai("answered")])
    graph = compile_agent(searcher(model, needs_approval=("search",)),
                          checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "a"}}
    paused = graph.invoke({"messages": [HumanMessage("secret")]}, config)
    assert "__interrupt__" in paused and SEARCHED == []
    graph.invoke(Command(resume=True), config)
    assert SEARCHED == ["secret"]


async def test_async_runs_open_the_same_way_and_emit_tool_events() -> None:
    events: list[object] = []
    model = ScriptedChatModel(steps={
        "lead": [ai(call("task", agent="searcher", objective="async q")), ai("done")],
        "searcher": [ai("ok")],
    })
    lead = Agent(name="lead", model=model, subagents=[searcher(model)],
                 on_subagent_event=lambda path, event: events.append(event))
    await compile_agent(lead).ainvoke({"messages": [HumanMessage("go")]})
    assert SEARCHED == ["async q"]
    starts = [e for e in events if isinstance(e, ToolStart)]
    assert [(e.agent, e.name, e.args) for e in starts] == [
        ("searcher", "search", {"query": "async q", "limit": 2})]


def test_arguments_fill_the_task_at_any_depth_and_leave_the_rest() -> None:
    first = FirstCall(tool="t", args={"q": "about {task}!", "n": 3, "tags": ["{task}", 1],
                                      "opts": {"text": "{task}{task}"}})
    assert first.arguments("X") == {"q": "about X!", "n": 3, "tags": ["X", 1],
                                    "opts": {"text": "XX"}}


def test_a_first_call_of_no_own_tool_is_a_spec_error() -> None:
    model = ScriptedChatModel(steps=[])
    agent = Agent(name="a", model=model, tools=[search], first_call={"tool": "task"})
    with pytest.raises(SpecError, match="'first_call': 'task' is no tool of the agent; its "
                                        "own tools: search"):
        compile_agent(agent)
    with pytest.raises(ValueError, match="extra"):
        FirstCall(tool="search", argz={})  # type: ignore[call-arg]


def test_a_team_file_names_it(tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text("root: a\nagents:\n  - name: a\n    tools: [grep]\n"
                    "    first_call: {tool: grep, args: {pattern: '{task}'}}\n")
    agent = load_team(team, root=tmp_path)
    assert agent.first_call == FirstCall(tool="grep", args={"pattern": "{task}"})
