"""The tool node: runs one of the agent's own tools per ``Send``.

Errors never escape: invalid arguments and exceptions become an error ``ToolMessage`` the
model can read. LangGraph's ``GraphBubbleUp`` (``interrupt()``) is re-raised untouched.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp
from pydantic import ValidationError

from subagents.nodes._emit import Emitter
from subagents.nodes.plan import AgentPlan
from subagents.nodes.schemas import validation_text
from subagents.scope import scope_of

__all__ = ["make_tool_node"]


def _error(tc: ToolCall, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        text = f"Error: invalid arguments for '{tc['name']}': {validation_text(exc)}"
    else:
        text = f"Error: {type(exc).__name__}: {exc}"
    msg = ToolMessage(content=text, tool_call_id=tc["id"] or "", name=tc["name"], status="error")
    return {"messages": [msg]}


def _ok(tc: ToolCall, result: Any) -> dict[str, Any]:
    if not isinstance(result, ToolMessage):
        result = ToolMessage(content=str(result), tool_call_id=tc["id"] or "", name=tc["name"])
    return {"messages": [result]}


def make_tool_node(plan: AgentPlan) -> RunnableCallable:
    """Build the sync+async ``tools`` node: input ``{"tool_call": ToolCall}`` (a ``Send``)."""
    tools: dict[str, BaseTool] = plan.tools

    def run(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tc: ToolCall = payload["tool_call"]
        emit = Emitter(scope_of(config), config)
        emit.tool_start(tc)
        try:
            out = _ok(tc, tools[tc["name"]].invoke(tc, config))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a tool failure becomes a result the model reads
            out = _error(tc, exc)
        emit.tool_end(tc, out["messages"][0])
        return out

    async def arun(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tc: ToolCall = payload["tool_call"]
        emit = Emitter(scope_of(config), config)
        emit.tool_start(tc)
        try:
            out = _ok(tc, await tools[tc["name"]].ainvoke(tc, config))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a tool failure becomes a result the model reads
            out = _error(tc, exc)
        emit.tool_end(tc, out["messages"][0])
        return out

    return RunnableCallable(run, arun, name="tools", trace=False)
