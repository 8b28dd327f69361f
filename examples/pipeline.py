"""Explicit delegation in a pipeline: extract -> enrich -> format (Helix's pipeline pattern).

Each step is a sub-agent run by ``delegate_node`` at a fixed place of an ordinary LangGraph
``StateGraph``: a router (conditional edge) picks the enrichment, a loop retries enrichment
until it is confident enough, and the final formatting runs two sub-agents in parallel.

Run it on the default model (the local llama.cpp server, see README):
    .venv/bin/python examples/pipeline.py "Ada Lovelace wrote the first program in 1843."
"""

from __future__ import annotations

import operator
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from subagents import Agent, delegate_node


class Facts(BaseModel):
    person: str = Field(description="The person the text is about.")
    year: int = Field(description="The year mentioned.")
    claim: str = Field(description="What the text says happened.")


class Enriched(BaseModel):
    summary: str
    confidence: float = Field(ge=0, le=1)


class PipelineState(TypedDict, total=False):
    document: str
    facts: Facts
    enriched: Enriched
    attempts: Annotated[int, operator.add]
    headline_text: str
    tweet_text: str


extractor = Agent(name="extract", description="Extracts facts.", output_schema=Facts,
                  system_prompt="Extract the person, year and claim. Call final_answer.")
historian = Agent(name="historian", output_schema=Enriched,
                  system_prompt="Add historical context in one sentence; rate your confidence.")
generalist = Agent(name="generalist", output_schema=Enriched,
                   system_prompt="Explain the claim plainly in one sentence; rate confidence.")
headline = Agent(name="headline", system_prompt="Write a headline of at most 8 words.")
tweet = Agent(name="tweet", system_prompt="Write one tweet (under 200 characters).")


def route(state: PipelineState) -> str:
    """Old events go to the historian, the rest to the generalist."""
    return "historian" if state["facts"].year < 1950 else "generalist"


def again(state: PipelineState) -> str:
    """Retry enrichment (at most 3 attempts) until confidence >= 0.5."""
    enriched = state.get("enriched")
    if enriched is None or (enriched.confidence < 0.5 and state.get("attempts", 0) < 3):
        return route(state)
    return "fan_out"


def _facts_text(state: Any) -> str:
    facts = state["facts"]
    return f"{facts.person} ({facts.year}): {facts.claim}"


def build_pipeline(model: BaseChatModel | str | None = None) -> Any:
    """Compile the pipeline; ``model`` is used by every sub-agent (None: the default)."""
    builder = StateGraph(PipelineState)
    builder.add_node("extract", delegate_node(extractor, input="document", output_key="facts",
                                              model=model))
    for agent in (historian, generalist):
        builder.add_node(agent.name, _count(delegate_node(agent, input=_facts_text,
                                                          output_key="enriched", model=model)))
    builder.add_node("fan_out", lambda state: {})
    builder.add_node("headline", delegate_node(headline, input=_facts_text,
                                               output_key="headline_text", model=model))
    builder.add_node("tweet", delegate_node(tweet, input=_facts_text,
                                            output_key="tweet_text", model=model))
    builder.add_edge(START, "extract")
    builder.add_conditional_edges("extract", route, ["historian", "generalist"])
    for name in ("historian", "generalist"):
        builder.add_conditional_edges(name, again, ["historian", "generalist", "fan_out"])
    builder.add_edge("fan_out", "headline")
    builder.add_edge("fan_out", "tweet")
    builder.add_edge(["headline", "tweet"], END)
    return builder.compile()


def _count(node: Any) -> Any:
    async def counted(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return {**(await node.ainvoke(state, config)), "attempts": 1}

    return counted


if __name__ == "__main__":
    import asyncio

    text = sys.argv[1] if len(sys.argv) > 1 else "Ada Lovelace wrote the first program in 1843."
    result = asyncio.run(build_pipeline().ainvoke({"document": text}))
    print(result)
