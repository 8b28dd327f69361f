"""Snapshot tests of graph transitions (syrupy). A changed snapshot must be reviewed."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from syrupy.assertion import SnapshotAssertion

from subagents import Agent, compile_agent
from subagents.testing import ScriptedChatModel, ai, call, transition_trace


@tool
def grep(pattern: str) -> str:
    """Search files for a literal pattern."""
    return f"src/a.py:3: {pattern} = 1"


def two_level_team(model: ScriptedChatModel) -> Agent:
    search = Agent(name="search", description="Greps files.", tools=[grep])
    explore = Agent(name="explore", description="Explores a codebase.", subagents=[search])
    return Agent(name="dev", model=model, subagents=[explore, search], max_subagent_depth=2)


def test_mermaid_of_two_level_team(snapshot: SnapshotAssertion) -> None:
    graph = compile_agent(two_level_team(ScriptedChatModel(steps=[])))
    assert graph.get_graph(xray=True).draw_mermaid(with_styles=False) == snapshot


def policy(messages: list, agent: str | None) -> AIMessage:
    """One delegation per turn, so the trace order is deterministic."""
    last = messages[-1]
    tools_seen = sum(isinstance(m, ToolMessage) for m in messages)
    if agent == "dev":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="explore", objective="Where is x defined?"))
        return ai(f"x is defined in src/a.py ({tools_seen} result)")
    if agent == "explore":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="search", objective="grep for 'x ='"))
        return ai("src/a.py line 3")
    if isinstance(last, HumanMessage):
        return ai(call("grep", pattern="x"))
    return ai(f"found: {last.content}")


def test_transition_trace_of_scripted_run(snapshot: SnapshotAssertion) -> None:
    graph = compile_agent(two_level_team(ScriptedChatModel(policy=policy)))
    trace = transition_trace(graph, {"messages": [HumanMessage("Where is x?")]})
    assert trace == snapshot
    assert trace[-1].startswith("dev | model | ai: x is defined in src/a.py")
