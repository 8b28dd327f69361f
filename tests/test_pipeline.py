"""Explicit Delegate nodes in a user's StateGraph: router, loop, parallel branches."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.types import RetryPolicy

from subagents import Agent, DelegationResult, Status, delegate_node
from subagents.testing import ScriptedChatModel, ai, call

Saver = BaseCheckpointSaver[Any]

ROOT = Path(__file__).resolve().parents[1]


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("pipeline_example", ROOT / "examples/pipeline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["pipeline_example"] = module
    spec.loader.exec_module(module)
    return module


def example_policy(confidences: list[float]) -> Any:
    left = list(confidences)

    def policy(messages: list, agent: str | None) -> AIMessage:
        task = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
        if agent == "extract":
            return ai(call("final_answer", person="Ada Lovelace", year=1843,
                           claim="wrote the first program"))
        if agent in ("historian", "generalist"):
            return ai(call("final_answer", summary=f"{agent} on {task}",
                           confidence=left.pop(0)))
        return ai(f"{agent}: {task}")

    return policy


async def test_example_pipeline_routes_loops_and_fans_out() -> None:
    module = load_example()
    model = ScriptedChatModel(policy=example_policy([0.2, 0.3, 0.9]))
    out = await module.build_pipeline(model).ainvoke({"document": "Ada wrote code in 1843."})
    assert out["facts"] == module.Facts(person="Ada Lovelace", year=1843,
                                        claim="wrote the first program")
    assert out["attempts"] == 3  # the loop retried until confidence >= 0.5
    assert out["enriched"].confidence == 0.9
    assert {c.agent for c in model.calls} == {"extract", "historian", "headline", "tweet"}
    assert out["headline_text"] == "headline: Ada Lovelace (1843): wrote the first program"
    assert out["tweet_text"].startswith("tweet: Ada Lovelace")
    task = model.calls_by("extract")[0].messages[-1]
    assert task.content == "Ada wrote code in 1843."


class S(TypedDict, total=False):
    question: str
    answer: str | None
    outcome: DelegationResult


def test_failed_child_lands_in_state_not_as_an_exception() -> None:
    model = ScriptedChatModel(steps=[RuntimeError("model down")])
    builder = StateGraph(S)
    builder.add_node("ask", delegate_node(Agent(name="asker", model=model), input="question",
                                          output_key="answer", result_key="outcome"))
    builder.add_edge(START, "ask")
    out = builder.compile().invoke({"question": "why?"})
    assert out["answer"] is None
    assert out["outcome"].status is Status.FAILED
    assert out["outcome"].error == "RuntimeError: model down"


@pytest.mark.savers("memory", "sqlite", "postgres")
async def test_persistent_step_keeps_history_inside_a_checkpointed_pipeline(
        async_saver: Saver) -> None:
    def policy(messages: list, agent: str | None) -> AIMessage:
        asked = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        return ai(" / ".join(asked))

    model = ScriptedChatModel(policy=policy)
    builder = StateGraph(S)
    builder.add_node("ask", delegate_node(Agent(name="memo", model=model, persistent=True),
                                          input=lambda s: {"objective": s["question"]},
                                          output_key="answer"))
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=async_saver)
    cfg = {"configurable": {"thread_id": "p1"}}
    await graph.ainvoke({"question": "first"}, cfg)
    out = await graph.ainvoke({"question": "second"}, cfg)
    assert out["answer"] == "first / second"


class Flaky(Exception):
    """A transient failure (LangGraph's default ``retry_on`` retries it)."""


def flaky_model(fails: int) -> tuple[ScriptedChatModel, list[int]]:
    """A child model raising on its first ``fails`` calls, then answering (calls counted)."""
    calls: list[int] = []

    def policy(messages: list, agent: str | None) -> AIMessage:
        calls.append(1)
        if len(calls) <= fails:
            raise Flaky(f"flake {len(calls)}")
        return ai("steady")

    return ScriptedChatModel(policy=policy), calls


def ask_graph(agent: Agent) -> Any:
    return ask_graph_on(agent, None)


def ask_graph_on(agent: Agent, saver: Saver | None) -> Any:
    builder = StateGraph(S)
    builder.add_node("ask", delegate_node(agent, input="question", output_key="answer",
                                          result_key="outcome"))
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_pipeline_step_follows_its_agents_retry_policy(mode: str) -> None:
    model, calls = flaky_model(fails=2)
    agent = Agent(name="asker", model=model,
                  retry=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False))
    graph = ask_graph(agent)
    out = (graph.invoke({"question": "why?"}) if mode == "sync"
           else await graph.ainvoke({"question": "why?"}))
    assert out["answer"] == "steady" and len(calls) == 3
    outcome = out["outcome"]
    assert (outcome.status, outcome.attempts) == (Status.COMPLETED, 3)
    assert outcome.errors == ["Flaky: flake 1", "Flaky: flake 2"]
    model, calls = flaky_model(fails=5)  # never succeeds: the last status, every error
    out = ask_graph(agent.model_copy(update={"model": model})).invoke({"question": "why?"})
    assert out["answer"] is None and len(calls) == 3
    assert (out["outcome"].status, out["outcome"].attempts) == (Status.FAILED, 3)
    assert len(out["outcome"].errors) == 3


def hanging_agent(gate: threading.Event | asyncio.Event, seconds: float) -> Agent:
    """An agent whose only tool waits on ``gate``: its first attempt never ends by itself."""
    if isinstance(gate, asyncio.Event):
        async def hang() -> str:
            """Wait for the gate."""
            await gate.wait()
            return "released"
    else:
        def hang() -> str:
            """Wait for the gate."""
            gate.wait()
            return "released"
    model = ScriptedChatModel(policy=lambda messages, agent: ai(call("hang")))
    return Agent(name="slow", model=model, tools=[tool(hang)], timeout=seconds)


async def test_a_pipeline_step_ends_timeout_at_its_agents_timeout_async() -> None:
    gate = asyncio.Event()
    out = await ask_graph(hanging_agent(gate, 0.3)).ainvoke({"question": "why?"})
    assert out["answer"] is None
    assert out["outcome"].status is Status.TIMEOUT
    assert "still running after 0.3 s" in (out["outcome"].error or "")
    assert not gate.is_set()  # the tool was cancelled, not released


def test_a_pipeline_step_ends_timeout_at_its_agents_timeout_sync() -> None:
    gate = threading.Event()
    try:
        out = ask_graph(hanging_agent(gate, 0.3)).invoke({"question": "why?"})
    finally:
        gate.set()  # release the hung tool so its thread can end
    assert out["answer"] is None and out["outcome"].status is Status.TIMEOUT
    waiting = [t for t in threading.enumerate() if t.name.startswith("subagent-pipeline-")]
    for thread in waiting:
        thread.join(timeout=30)
        assert not thread.is_alive()  # stopped at its next node, not left running


@tool
def careful(n: int) -> str:
    """Do something a human approves first."""
    return f"careful {n}"


class Doc(TypedDict, total=False):
    doc: str
    out: Any
    res: Any


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_pipeline_steps_budget_goes_on_across_resumes(mode: str) -> None:
    """A step whose agent has a ``Budget`` and pauses for approvals: each resume of the
    pipeline resumes the step, whose counters go on from its checkpoint (they restarted at
    zero: 9 model calls for max_model_calls=3, until the test stopped approving)."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from subagents import Budget, needs_approval

    model = ScriptedChatModel(policy=lambda m, a: ai(call("careful", n=len(m))))
    worker = Agent(name="worker", tools=[needs_approval(careful)], max_steps=50,
                   budget=Budget(max_model_calls=3))
    builder = StateGraph(Doc)
    builder.add_node("w", delegate_node(worker, input="doc", output_key="out", result_key="res",
                                        model=model))
    builder.add_edge(START, "w")
    graph = builder.compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": f"pipeline-budget-{mode}"}}

    def run(value: Any) -> dict[str, Any]:
        if mode == "sync":
            return graph.invoke(value, cfg)
        return asyncio.run(graph.ainvoke(value, cfg))

    out, pauses = run({"doc": "go"}), 0
    while "__interrupt__" in out and pauses < 8:
        pauses += 1
        out = run(Command(resume=True))
    assert (len(model.calls), pauses) == (3, 3)
    assert out["res"].status is Status.OVER_BUDGET


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_persistent_step_that_pauses_resumes_on_its_thread(mode: str) -> None:
    """A persistent step asks a human (``interrupt()``); the pipeline's resume continues it.

    The step's call id changed at every run of the node, so the resumed node found the
    thread paused by "another call" and failed, and the thread stayed paused for good.
    """
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command, interrupt

    @tool
    def ask_human(question: str) -> str:
        """Ask the human."""
        return str(interrupt(question))

    def policy(messages: list, agent: str | None) -> AIMessage:
        last = messages[-1]
        return (ai(call("ask_human", question=str(last.content)))
                if isinstance(last, HumanMessage) else ai(f"human said {last.content}"))

    worker = Agent(name="memo", model=ScriptedChatModel(policy=policy), tools=[ask_human],
                   persistent=True)
    graph = ask_graph_on(worker, InMemorySaver())
    cfg = {"configurable": {"thread_id": f"pipeline-hitl-{mode}"}}

    def run(value: Any) -> dict[str, Any]:
        if mode == "sync":
            return graph.invoke(value, cfg)
        return asyncio.run(graph.ainvoke(value, cfg))

    for turn, answer in (("first", "yes"), ("second", "no")):
        (pending,) = run({"question": turn})["__interrupt__"]
        assert pending.value == turn
        out = run(Command(resume=answer))
        assert (out["outcome"].status, out["answer"]) == (Status.COMPLETED, f"human said {answer}")
