"""Explicit Delegate nodes in a user's StateGraph: router, loop, parallel branches."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph

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
