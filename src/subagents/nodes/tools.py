"""The tool node: runs one of the agent's own tools per ``Send``.

Errors never escape: invalid arguments and exceptions become an error ``ToolMessage`` the
model can read. LangGraph's ``GraphBubbleUp`` (``interrupt()``) is re-raised untouched, so a
tool (or a sub-agent at any depth) can pause the whole run for a human.

Tools that need approval (``needs_approval(tool)`` or ``Agent(needs_approval=[...])``) call
``interrupt()`` first with an approval request; the resume value decides (see
:func:`approval_decision`). A rejection reaches the model as an error tool result.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt
from pydantic import ValidationError

from subagents.budget import deadline
from subagents.nodes._emit import Emitter
from subagents.nodes._node import AgentNode
from subagents.nodes.plan import AgentPlan
from subagents.nodes.schemas import validation_text
from subagents.scope import scope_of

__all__ = ["APPROVAL_KEY", "approval_decision", "make_tool_node", "needs_approval"]

APPROVAL_KEY = "subagents_needs_approval"
"""``tool.metadata`` key set by :func:`needs_approval`."""


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


def needs_approval(tool: BaseTool) -> BaseTool:
    """A copy of ``tool`` whose every call waits for a human's approval (an ``interrupt``).

    The original tool is left as it was, so it can be given elsewhere without approval.
    """
    return tool.model_copy(update={"metadata": {**(tool.metadata or {}), APPROVAL_KEY: True}})


def approval_decision(value: Any) -> tuple[bool, str]:
    """Read an approval resume value: (approved, reason).

    ``True``, ``"approve"``/``"yes"``/``"ok"`` and ``{"approved": true}`` approve; anything
    else rejects, with ``{"reason": ...}`` or a string as the reason the model reads.
    """
    if value is True or (isinstance(value, str) and value.lower() in ("approve", "yes", "ok")):
        return True, ""
    if isinstance(value, dict):
        reason = str(value.get("reason") or value.get("message") or "")
        return bool(value.get("approved")), reason
    return False, str(value) if value not in (None, False) else ""


def _ask(plan: AgentPlan, tc: ToolCall) -> dict[str, Any] | None:
    """Interrupt for approval when the tool needs it; the rejection result, or None to run."""
    tool = plan.tools[tc["name"]]
    if not ((tool.metadata or {}).get(APPROVAL_KEY) or tc["name"] in plan.agent.needs_approval):
        return None
    request = {"type": "approval", "path": list(plan.path), "agent": plan.agent.name,
               "tool": tc["name"], "args": tc["args"], "tool_call_id": tc["id"]}
    approved, reason = approval_decision(interrupt(request))
    if approved:
        return None
    text = f"Rejected by a human: the tool '{tc['name']}' was not run." + (
        f" Reason: {reason}" if reason else "")
    msg = ToolMessage(content=text, tool_call_id=tc["id"] or "", name=tc["name"], status="error")
    return {"messages": [msg]}


def make_tool_node(plan: AgentPlan) -> AgentNode:
    """Build the sync+async ``tools`` node: input ``{"tool_call": ToolCall}`` (a ``Send``)."""
    tools: dict[str, BaseTool] = plan.tools

    def run(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tc: ToolCall = payload["tool_call"]
        if (rejected := _ask(plan, tc)) is not None:
            return rejected
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
        if (rejected := _ask(plan, tc)) is not None:
            return rejected
        scope = scope_of(config)
        emit = Emitter(scope, config)
        emit.tool_start(tc)
        try:  # cancelled at the budget's max_seconds deadline (BudgetDeadline: an error result)
            async with deadline(scope.budget if scope is not None else None, "a tool call"):
                out = _ok(tc, await tools[tc["name"]].ainvoke(tc, config))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a tool failure becomes a result the model reads
            out = _error(tc, exc)
        emit.tool_end(tc, out["messages"][0])
        return out

    return AgentNode(run, arun, name="tools")
