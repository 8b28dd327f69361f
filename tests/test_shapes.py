"""Consistent shapes: where a run's answer and events are, read from one call.

``stream_events`` ends with a ``RunEnd`` holding the run's output; ``print_tree`` /
``tree_text`` draw any list of events as the CLI does; a root with an ``output_schema`` puts its
answer in ``out["structured_response"]`` (an instance of the schema); a child's output schema
reaches the parent as a ``dict`` in ``DelegationResult.result``.
"""

from __future__ import annotations

import io

from langchain_core.messages import HumanMessage, ToolMessage
from pydantic import BaseModel
from rich.console import Console

from subagents import Agent, DelegationResult, Status, compile_agent, stream_events
from subagents.cli import print_tree, tree_text
from subagents.events import RunEnd
from subagents.testing import ScriptedChatModel, ai, call


class Answer(BaseModel):
    file: str
    line: int


def team() -> tuple[Agent, ScriptedChatModel]:
    model = ScriptedChatModel(steps={
        "dev": [ai(call("task", agent="search", objective="find x")), ai("x is in a.py")],
        "search": [ai("a.py:3")],
    })
    return Agent(name="dev", subagents=[Agent(name="search", description="Searches.")]), model


async def test_stream_events_ends_with_the_runs_output() -> None:
    dev, model = team()
    events = [e async for e in stream_events(compile_agent(dev, model=model),
                                             {"messages": [HumanMessage("where?")]})]
    last = events[-1]
    assert isinstance(last, RunEnd) and sum(isinstance(e, RunEnd) for e in events) == 1
    assert last.output["messages"][-1].content == "x is in a.py"
    assert last.output["usage"]["totals"]["model_calls"] == 3


async def test_the_tree_printer_draws_a_list_of_events_like_the_cli() -> None:
    dev, model = team()
    events = [e async for e in stream_events(compile_agent(dev, model=model),
                                             {"messages": [HumanMessage("where?")]})]
    text = tree_text(events, usage=True)
    lines = text.splitlines()
    assert lines[0].startswith("✓ dev") and "completed" in lines[0]
    assert any('search  "find x"  completed' in ln for ln in lines[1:])
    assert "usage" in text and "dev/search" in text
    buffer = io.StringIO()
    print_tree(events, console=Console(file=buffer, width=100, color_system=None), usage=False)
    assert buffer.getvalue() == tree_text(events)


async def test_a_root_output_schema_answer_is_the_structured_response() -> None:
    model = ScriptedChatModel(steps=[ai(call("final_answer", file="a.py", line=3))])
    root = Agent(name="root", output_schema=Answer)
    out = await compile_agent(root, model=model).ainvoke({"messages": [HumanMessage("q")]})
    assert out["structured_response"] == Answer(file="a.py", line=3)
    last = out["messages"][-1]
    assert isinstance(last, ToolMessage) and last.content == "Final answer accepted."


async def test_a_child_output_schema_reaches_the_parent_as_a_dict() -> None:
    model = ScriptedChatModel(steps={
        "dev": [ai(call("task", agent="finder", objective="find x")), ai("done")],
        "finder": [ai(call("final_answer", file="a.py", line=3))],
    })
    dev = Agent(name="dev", subagents=[Agent(name="finder", description="Finds.",
                                             output_schema=Answer)])
    out = await compile_agent(dev, model=model).ainvoke({"messages": [HumanMessage("q")]})
    result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert result.status is Status.COMPLETED
    assert result.result == {"file": "a.py", "line": 3}
    assert Answer.model_validate(result.result) == Answer(file="a.py", line=3)
