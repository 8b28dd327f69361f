"""Tools from a real MCP server (the ``mcp`` SDK, stdio, started by the test) in an agent.

The agent calls an MCP tool like any tool; an allow list keeps the others out; an MCP error,
a server that dies mid-run and a call that never answers each become an error tool result
naming the server while the run goes on; a server that cannot start is a typed error at once.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from subagents import Agent, compile_agent
from subagents.testing import ScriptedChatModel, ai, call
from subagents.tools.mcp import MCPServerError, mcp_tools

SERVER = Path(__file__).parent / "fakes" / "mcp_server.py"
CALC = {"calc": {"transport": "stdio", "command": sys.executable, "args": [str(SERVER)]}}
BOUND = 60.0


def calling(*calls: tuple[str, dict[str, Any]]) -> ScriptedChatModel:
    """The agent makes ``calls`` in turn, then answers with the tool results it read."""

    def policy(messages: list[Any], agent: str | None) -> AIMessage:
        done = [m for m in messages if isinstance(m, ToolMessage)]
        if len(done) < len(calls):
            name, args = calls[len(done)]
            return ai(call(name, **args))
        return ai(" | ".join(f"{m.status}: {m.content}" for m in done))

    return ScriptedChatModel(policy=policy)


async def run(tools: list[Any], *calls: tuple[str, dict[str, Any]]) -> tuple[str, list[Any]]:
    agent = Agent(name="worker", tools=tools, model=calling(*calls))
    out = await asyncio.wait_for(
        compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]}), BOUND)
    return out["messages"][-1].content, [m for m in out["messages"]
                                         if isinstance(m, ToolMessage)]


async def test_an_agent_calls_an_mcp_tool() -> None:
    async with mcp_tools(CALC) as tools:
        assert {t.name for t in tools} == {"add", "divide", "crash", "hang"}
        assert all(t.metadata and t.metadata["mcp_server"] == "calc" for t in tools)
        answer, _ = await run(tools, ("add", {"a": 2, "b": 3}))
    assert answer == "success: 5"


async def test_the_allow_list_applies_to_mcp_tools() -> None:
    async with mcp_tools(CALC, tools=["calc.add"]) as tools:
        assert [t.name for t in tools] == ["add"]
        answer, replies = await run(tools, ("crash", {}), ("add", {"a": 1, "b": 1}))
    assert replies[0].status == "error" and "crash" in str(replies[0].content)
    assert answer.endswith("success: 2")  # the server was not killed: crash never ran


async def test_an_mcp_error_is_an_error_result_naming_the_server() -> None:
    async with mcp_tools(CALC) as tools:
        answer, replies = await run(tools, ("divide", {"a": 1, "b": 0}), ("add", {"a": 1, "b": 2}))
    assert replies[0].status == "error" and "MCP server 'calc'" in str(replies[0].content)
    assert "division by zero" in str(replies[0].content)
    assert answer.endswith("success: 3")


async def test_a_server_dying_mid_run_is_an_error_result_and_the_run_ends() -> None:
    async with mcp_tools(CALC, call_timeout=20) as tools:
        answer, replies = await run(tools, ("crash", {}), ("add", {"a": 1, "b": 2}))
    assert [r.status for r in replies] == ["error", "error"]
    assert all("MCP server 'calc'" in str(r.content) for r in replies)
    assert answer.count("error: ") == 2  # the agent read both and answered


async def test_a_call_that_never_answers_times_out_naming_the_server() -> None:
    async with mcp_tools(CALC, call_timeout=0.5) as tools:
        answer, replies = await run(tools, ("hang", {}), ("add", {"a": 2, "b": 2}))
    assert "MCP server 'calc': tool 'hang' timed out after 0.5 s" in str(replies[0].content)
    assert answer.endswith("success: 4")


async def test_a_server_that_cannot_start_is_a_typed_error_naming_it() -> None:
    broken = {"ghost": {"transport": "stdio", "command": "/nonexistent/mcp-server", "args": []}}
    with pytest.raises(MCPServerError, match="MCP server 'ghost' failed to start"):
        async with mcp_tools(broken, start_timeout=10):
            pass
    exits = {"quits": {"transport": "stdio", "command": sys.executable,
                       "args": ["-c", "import sys; sys.exit(2)"]}}
    with pytest.raises(MCPServerError, match="MCP server 'quits'"):
        async with mcp_tools(exits, start_timeout=10):
            pass
