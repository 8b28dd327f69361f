"""A team as a LangChain tool (``subagents.as_tool``) inside other frameworks' agents.

A ``langchain.agents.create_agent`` agent calls the team like any tool, sync and async; the
team sees only the task, the caller reads the typed result JSON, a failing team answers
``failed`` without raising, and the caller's callbacks see the team's runs (its agents' model
calls). A plain ``ToolNode`` runs a compiled team the same way.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from subagents import Agent, DelegationResult, Status, as_tool, compile_agent
from subagents.testing import ScriptedChatModel, ai, call


def team_policy(messages: list[Any], agent: str | None) -> AIMessage:
    task = str(messages[0].content) if messages else ""
    if agent == "lead" and isinstance(messages[-1], HumanMessage):
        if "explode" in task:
            raise RuntimeError("the team broke")
        return ai(call("task", agent="helper", objective=f"help with: {task}"))
    if agent == "lead":
        return ai(f"lead answers: {messages[-1].content}")
    return ai(f"helper saw {len(messages)} message(s): {task}")


def team() -> Agent:
    helper = Agent(name="helper", description="Helps.")
    return Agent(name="lead", description="A research team.", subagents=[helper],
                 model=ScriptedChatModel(policy=team_policy))


def caller_policy(messages: list[Any], agent: str | None) -> AIMessage:
    if isinstance(messages[-1], HumanMessage):
        return ai(call("research_team", objective=str(messages[-1].content)))
    return ai(f"caller got: {messages[-1].content}")


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.model_runs: list[dict[str, Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.model_runs.append(dict(metadata or {}))


def caller(tool: Any) -> Any:
    return create_agent(ScriptedChatModel(policy=caller_policy), [tool])


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_create_agent_agent_calls_the_team_and_reads_the_typed_result(mode: str) -> None:
    tool = as_tool(team(), name="research_team")
    assert tool.name == "research_team" and tool.description == "A research team."
    assert set(tool.args) == {"objective", "context"}
    recorder = Recorder()
    inputs = {"messages": [HumanMessage("tides")]}
    config = {"callbacks": [recorder]}
    out = (caller(tool).invoke(inputs, config) if mode == "sync"
           else await caller(tool).ainvoke(inputs, config))
    reply = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    result = DelegationResult.from_message(reply)
    assert result.status is Status.COMPLETED and result.agent == "lead"
    assert result.result == "lead answers: " + (
        '{"status": "completed", "agent": "helper", '
        '"result": "helper saw 1 message(s): help with: tides", "error": null}')
    assert out["messages"][-1].content.startswith("caller got: ")
    agents = [m.get("lc_agent_name") for m in recorder.model_runs]
    assert agents.count("lead") == 2 and agents.count("helper") == 1


async def test_a_failing_team_answers_failed_and_the_caller_goes_on() -> None:
    out = await caller(as_tool(team(), name="research_team")).ainvoke(
        {"messages": [HumanMessage("explode now")]})
    result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert result.status is Status.FAILED and "the team broke" in (result.error or "")
    assert out["messages"][-1].content.startswith("caller got: ")


async def test_a_compiled_team_in_a_plain_tool_node() -> None:
    tool = as_tool(compile_agent(team()), description="Ask the team.")
    assert tool.name == "lead" and tool.description == "Ask the team."
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([tool]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    request = AIMessage("", tool_calls=[{"name": "lead", "args": {"objective": "winds",
                                                                  "context": "be brief"},
                                         "id": "c1", "type": "tool_call"}])
    out = await builder.compile().ainvoke({"messages": [request]})
    result = DelegationResult.from_message(out["messages"][-1])
    assert result.status is Status.COMPLETED and "winds" in str(result.result)


def test_as_tool_refuses_what_is_not_a_team() -> None:
    with pytest.raises(TypeError, match="an Agent or a graph from compile_agent"):
        as_tool(ScriptedChatModel(policy=team_policy))
