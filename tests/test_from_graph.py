"""Own graphs as sub-agents (``Agent.from_graph``): a ``create_agent`` graph, a hand-written
``StateGraph`` with its own state, and a plain Runnable.

Each is delegated to by a native parent ``boss`` and checked for isolation (the graph sees
only the task, the parent only the result), usage and budget (read through callbacks),
events under the child's ancestry path, typed endings, interrupts and resume, persistence,
and team files.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from subagents import Agent, Budget, DelegationResult, Status, compile_agent, observe
from subagents.events import BaseEvent
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call


@tool
def lookup(word: str) -> str:
    """Look up a word."""
    return f"{word}: defined in words.py"


def helper_graph(*steps: AIMessage) -> tuple[Any, ScriptedChatModel]:
    """A ``create_agent`` graph scripted by ``steps`` (its model calls as agent 'helper')."""
    model = ScriptedChatModel(steps={"helper": list(steps)})
    return create_agent(model, tools=[lookup], name="helper"), model


def boss(child: Agent, *, objective: str = "find x", **options: Any) -> Any:
    """A native parent delegating once to ``child`` then answering with what it got."""

    def policy(messages: list[Any]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return ai(f"boss got: {last.content}")
        return ai(call("task", agent=child.name, objective=objective))

    saver = options.pop("checkpointer", None)
    return compile_agent(Agent(name="boss", model=ScriptedChatModel(policy=policy),
                               subagents=[child], **options), checkpointer=saver)


def result_of(out: dict[str, Any]) -> DelegationResult:
    msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    return DelegationResult.from_message(msg)


def run(graph: Any, inputs: Any, config: dict[str, Any] | None = None, *,
        is_async: bool = False) -> dict[str, Any]:
    if is_async:
        out: dict[str, Any] = asyncio.run(graph.ainvoke(inputs, config))
    else:
        out = graph.invoke(inputs, config)
    return out


ASK = {"messages": [HumanMessage("secret parent context; please find x")]}


# -- a create_agent graph: messages default ---------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
def test_create_agent_isolation_usage_and_events(is_async: bool) -> None:
    graph, model = helper_graph(ai(call("lookup", word="x")), ai("x is in words.py"))
    helper = Agent.from_graph(graph, name="helper", description="Looks words up.")
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = run(boss(helper), ASK, cfg, is_async=is_async)

    res = result_of(out)
    assert (res.status, res.result) == (Status.COMPLETED, "x is in words.py")
    # the parent sees one ToolMessage, none of the child's messages
    assert [type(m).__name__ for m in out["messages"]] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    # the child sees only its task, nothing of the parent's history
    assert [m.content for m in model.calls[0].messages] == ["find x"]

    usage = out["usage"]
    child = usage["children"][0]
    assert child["path"] == ["boss", "helper"] and child["status"] == "completed"
    assert (child["model_calls"], child["tool_calls"]) == (2, 1)
    assert child["input_tokens"] > 0 and child["output_tokens"] > 0
    assert usage["totals"]["model_calls"] == 4

    mine = [(e.type, getattr(e, "name", None)) for e in events if e.path == ["boss", "helper"]]
    assert mine == [("subagent_start", None), ("model_start", None), ("model_end", None),
                    ("tool_start", "lookup"), ("tool_end", "lookup"), ("model_start", None),
                    ("model_end", None), ("subagent_end", None)]
    end = next(e for e in events if e.type == "subagent_end")
    assert end.usage["model_calls"] == 2  # type: ignore[attr-defined]


def test_structured_response_is_the_result() -> None:
    class State(TypedDict, total=False):
        messages: list[Any]
        structured_response: dict[str, Any]

    def answer(state: State) -> State:
        return {"structured_response": {"path": "words.py", "line": 3}}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    out = boss(Agent.from_graph(builder.compile(), name="finder")).invoke(ASK)
    assert result_of(out).result == {"path": "words.py", "line": 3}


# -- a StateGraph of its own state, a plain Runnable ------------------------------------------


class QA(TypedDict, total=False):
    question: str
    answer: str
    notes: Annotated[list[str], operator.add]


def qa_graph(seen: list[QA]) -> Any:
    model = ScriptedChatModel(steps={"qa": [ai("forty-two")]})

    def think(state: QA) -> QA:
        seen.append(dict(state))  # type: ignore[arg-type]
        reply = model.invoke([HumanMessage(state["question"])])
        return {"answer": str(reply.content), "notes": ["private note"]}

    builder = StateGraph(QA)
    builder.add_node("think", think)
    builder.add_edge(START, "think")
    builder.add_edge("think", END)
    return builder.compile()


@pytest.mark.parametrize("is_async", [False, True])
def test_own_state_graph_with_mappings(is_async: bool) -> None:
    seen: list[QA] = []
    qa = Agent.from_graph(qa_graph(seen), name="qa", input=lambda text: {"question": text},
                          output=lambda state: {"answer": state["answer"]})
    out = run(boss(qa, objective="what is six times seven?"), ASK, is_async=is_async)
    res = result_of(out)
    assert (res.status, res.result) == (Status.COMPLETED, {"answer": "forty-two"})
    assert seen == [{"question": "what is six times seven?", "notes": []}]  # only the task
    assert "private note" not in str(out["messages"])  # nothing else of its state
    child = out["usage"]["children"][0]
    assert (child["path"], child["model_calls"]) == (["boss", "qa"], 1)


@pytest.mark.parametrize("is_async", [False, True])
def test_plain_runnable_taking_a_string(is_async: bool) -> None:
    shout = Agent.from_graph(RunnableLambda(lambda text: f"{text.upper()}!"), name="shout",
                             input=lambda text: text)
    res = result_of(run(boss(shout, objective="hello"), ASK, is_async=is_async))
    assert (res.status, res.result) == (Status.COMPLETED, "HELLO!")


def test_state_without_messages_and_no_output_mapping_fails_clearly() -> None:
    bare = Agent.from_graph(RunnableLambda(lambda _: {"answer": 1}), name="bare")
    res = result_of(boss(bare).invoke(ASK))
    assert res.status is Status.FAILED and "output=" in (res.error or "")


# -- endings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
def test_exception_is_failed_and_the_parent_goes_on(is_async: bool) -> None:
    def broken(_: Any) -> Any:
        raise RuntimeError("disk on fire")

    out = run(boss(Agent.from_graph(RunnableLambda(broken), name="broken")), ASK,
              is_async=is_async)
    res = result_of(out)
    assert res.status is Status.FAILED and res.error == "RuntimeError: disk on fire"
    assert out["messages"][-1].content.startswith("boss got:")
    assert out["usage"]["children"][0]["status"] == "failed"


@pytest.mark.parametrize("is_async", [False, True])
def test_recursion_limit_is_max_steps(is_async: bool) -> None:
    class Loop(TypedDict):
        messages: list[Any]

    builder = StateGraph(Loop)
    builder.add_node("spin", lambda state: {"messages": state["messages"]})
    builder.add_edge(START, "spin")
    builder.add_edge("spin", "spin")
    looper = Agent.from_graph(builder.compile(), name="looper", max_steps=2)
    res = result_of(run(boss(looper), ASK, is_async=is_async))
    assert res.status is Status.MAX_STEPS and "max_steps=2" in (res.error or "")


@pytest.mark.parametrize("is_async", [False, True])
def test_budget_stops_the_graph_at_its_next_model_call(is_async: bool) -> None:
    model = ScriptedChatModel(steps={"helper": [ai(call("lookup", word="x")), ai("never")]})
    helper = Agent.from_graph(create_agent(model, tools=[lookup], name="helper"),
                              name="helper")
    out = run(boss(helper, budget=Budget(max_model_calls=2)), ASK, is_async=is_async)
    res = result_of(out)
    assert res.status is Status.OVER_BUDGET and "max_model_calls=2" in (res.error or "")
    assert len(model.calls) == 1  # the second call was never made
    child = out["usage"]["children"][0]
    assert (child["status"], child["model_calls"]) == ("over_budget", 1)


def test_budget_tokens_are_counted() -> None:
    graph, _ = helper_graph(ai("short"))
    out = boss(Agent.from_graph(graph, name="helper"),
               budget=Budget(max_tokens=100_000)).invoke(ASK)
    child = out["usage"]["children"][0]
    assert child["input_tokens"] + child["output_tokens"] > 0


# -- interrupts, resume, persistence ----------------------------------------------------------


class Ask(TypedDict, total=False):
    messages: Annotated[list[Any], operator.add]


def asking_graph(runs: list[str]) -> Any:
    def prepare(state: Ask) -> Ask:
        runs.append("prepare")
        return {}

    def confirm(state: Ask) -> Ask:
        answer = interrupt({"question": "go ahead?"})
        return {"messages": [AIMessage(f"confirmed: {answer}")]}

    builder = StateGraph(Ask)
    builder.add_node("prepare", prepare)
    builder.add_node("confirm", confirm)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "confirm")
    return builder.compile()


@pytest.mark.parametrize("is_async", [False, True])
def test_interrupt_surfaces_at_the_root_and_resumes(is_async: bool) -> None:
    runs: list[str] = []
    child = Agent.from_graph(asking_graph(runs), name="asker")
    graph = boss(child, checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": f"t-{is_async}"}}
    paused = run(graph, ASK, cfg, is_async=is_async)
    assert [i.value for i in paused["__interrupt__"]] == [{"question": "go ahead?"}]
    out = run(graph, Command(resume="yes"), cfg, is_async=is_async)
    res = result_of(out)
    assert (res.status, res.result) == (Status.COMPLETED, "confirmed: yes")
    assert runs == ["prepare"]  # resumed where it paused, not run again from the start


@pytest.mark.savers("memory", "sqlite", "postgres")
def test_persistent_graph_keeps_its_history_per_parent_thread(
        saver: BaseCheckpointSaver[Any]) -> None:
    seen: list[int] = []

    def count(state: Ask) -> Ask:
        seen.append(len(state["messages"]))
        return {"messages": [AIMessage(f"seen {len(state['messages'])}")]}

    builder = StateGraph(Ask)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    child = Agent.from_graph(builder.compile(), name="memo", persistent=True)
    graph = boss(child, checkpointer=saver)
    cfg = {"configurable": {"thread_id": "persist"}}
    first = result_of(graph.invoke(ASK, cfg))
    second = graph.invoke({"messages": [HumanMessage("again")]}, cfg)
    last = DelegationResult.from_message(
        [m for m in second["messages"] if isinstance(m, ToolMessage)][-1])
    assert (first.result, last.result) == ("seen 1", "seen 3")
    assert seen == [1, 3]


# -- spec and team files ----------------------------------------------------------------------


def test_spec_refuses_what_a_graph_decides() -> None:
    with pytest.raises(ValidationError, match="takes no tools"):
        Agent.from_graph(RunnableLambda(str), name="g", tools=[lookup])
    with pytest.raises(ValidationError, match="compiled LangGraph graph or a Runnable"):
        Agent.from_graph(42, name="g")
    with pytest.raises(ValidationError, match="no 'input' mapping"):
        Agent.from_graph(qa_graph([]), name="g", input=str, persistent=True)
    with pytest.raises(ValidationError, match="must be a compiled LangGraph graph"):
        Agent.from_graph(RunnableLambda(str), name="g", persistent=True)
    with pytest.raises(ValidationError, match=r"package\.module:attr"):
        Agent.from_graph("no_colon", name="g")


@pytest.mark.parametrize("ref", ["_graphs:SHOUT", "_graphs:shout_graph"])
def test_team_file_graph_field(ref: str) -> None:
    team = load_team({"agents": [
        {"name": "boss", "subagents": ["shout"]},
        {"name": "shout", "description": "Shouts.", "graph": ref},
    ]})
    shout = team.subagents[0]
    assert isinstance(shout, Agent) and shout.graph is not None
    res = result_of(boss(shout, objective="hi").invoke(ASK))
    assert (res.status, res.result) == (Status.COMPLETED, "HI")


def test_untrusted_team_file_refuses_graph() -> None:
    from subagents.errors import TeamFileError

    with pytest.raises(TeamFileError, match="untrusted"):
        load_team({"agents": [{"name": "boss", "subagents": ["s"]},
                              {"name": "s", "graph": "_graphs:SHOUT"}]}, trusted=False)


def test_a_stopped_delegation_stops_the_graph_at_its_next_call() -> None:
    from uuid import uuid4

    from subagents.runtime.call import CallInfo, Stopped
    from subagents.runtime.scope import RunScope
    from subagents.subgraphs._graph_usage import usage_handler

    call_info = CallInfo(tool_call_id="c1", objective="x")
    scope = RunScope(agent="helper", path=("boss", "helper"), parent=None, call=call_info,
                     budget=None, background=None)
    handler = usage_handler(scope, {}, is_async=False)
    handler.on_chat_model_start({}, [[HumanMessage("x")]], run_id=uuid4())  # runs
    call_info.stopped = True  # the delegation's sync timeout passed
    with pytest.raises(Stopped):
        handler.on_chat_model_start({}, [[HumanMessage("x")]], run_id=uuid4())
    with pytest.raises(Stopped):
        handler.on_tool_start({"name": "lookup"}, "x", run_id=uuid4())


@pytest.mark.parametrize("is_async", [False, True])
def test_streamed_tokens_are_text_deltas_under_the_child(is_async: bool) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    model = GenericFakeChatModel(messages=iter([AIMessage("hello big world")]))

    async def atalk(state: Ask) -> Ask:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def talk(state: Ask) -> Ask:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(Ask)
    builder.add_node("talk", atalk if is_async else talk)
    builder.add_edge(START, "talk")
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = run(boss(Agent.from_graph(builder.compile(), name="talker")), ASK, cfg,
              is_async=is_async)
    assert result_of(out).result == "hello big world"
    deltas = [e for e in events if e.type == "text_delta"]
    assert deltas and all(e.path == ["boss", "talker"] for e in deltas)
    assert "".join(e.text for e in deltas) == "hello big world"  # type: ignore[attr-defined]
