"""The tool node: runs one of the agent's own tools per ``Send``.

Errors never escape: invalid arguments and exceptions become an error ``ToolMessage`` the
model can read. LangGraph's ``GraphBubbleUp`` (``interrupt()``) is re-raised untouched, so a
tool (or a sub-agent at any depth) can pause the whole run for a human.

A tool call ends after its timeout (``with_timeout(tool, seconds)``, else
``Agent.tool_timeout``) with an error result saying so; a tool raising ``SystemExit`` or
``KeyboardInterrupt`` gets an error result too (see :mod:`subagents.nodes._toolcall`). A tool
returning a ``ToolMessage`` for another call id is answered on its own call: the runtime
pairs every result with its call. A returned ``Command`` is not applied (an error result).

Tools that need approval (``needs_approval(tool)`` or ``Agent(needs_approval=[...])``) call
``interrupt()`` first with an approval request; the resume value decides (see
:func:`approval_decision`: only an explicit approval runs the tool). A rejection reaches the
model as an error tool result.

The node is written once as a sans-IO step; the tool call itself is a request
(:class:`~subagents.nodes._toolcall.ToolRun`: a daemon thread in sync runs, the event loop in
async runs, where it is also cut off at the budget's ``max_seconds`` deadline).
"""

from __future__ import annotations

import math
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command
from pydantic import ValidationError

from subagents.errors import SpecError
from subagents.nodes._approval import approval_decision, approve_tool
from subagents.nodes._emit import Emitter
from subagents.nodes._node import AgentNode, Deadline, step_node
from subagents.nodes._toolcall import ToolExit, ToolRun, ToolTimeout, guarded
from subagents.nodes.plan import AgentPlan
from subagents.nodes.schemas import validation_text
from subagents.runtime.scope import scope_of
from subagents.runtime.steps import Request, Step

__all__ = ["APPROVAL_KEY", "TIMEOUT_KEY", "approval_decision", "make_tool_node",
           "needs_approval", "with_timeout"]

APPROVAL_KEY = "subagents_needs_approval"
"""``tool.metadata`` key set by :func:`needs_approval`."""
TIMEOUT_KEY = "subagents_timeout"
"""``tool.metadata`` key set by :func:`with_timeout`: seconds, or None for no limit."""


def _error(tc: ToolCall, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        text = f"Error: invalid arguments for '{tc['name']}': {validation_text(exc)}"
    elif isinstance(exc, ToolTimeout):
        text = f"Error: {exc}"
    elif isinstance(exc, ToolExit):
        text = (f"Error: {exc} (the tool tried to end the process; it was stopped and the "
                "run goes on)")
    else:
        text = f"Error: {type(exc).__name__}: {exc}"
    msg = ToolMessage(content=text, tool_call_id=tc["id"] or "", name=tc["name"], status="error")
    return {"messages": [msg]}


def _ok(tc: ToolCall, result: Any) -> dict[str, Any]:
    """The call's result message, always on the call's own id (content, status, artifact kept)."""
    if isinstance(result, Command):
        return _error(tc, TypeError(f"the tool '{tc['name']}' returned a Command; an agent's "
                                    "tools return content or a ToolMessage"))
    if not isinstance(result, ToolMessage):
        result = ToolMessage(content=str(result), tool_call_id=tc["id"] or "", name=tc["name"])
    elif result.tool_call_id != (tc["id"] or ""):  # another call's: answer this call, as a
        # new message (a message id of the other call's would replace that one in the state)
        result = result.model_copy(update={"tool_call_id": tc["id"] or "", "id": None})
    return {"messages": [result]}


def needs_approval(tool: BaseTool) -> BaseTool:
    """A copy of ``tool`` whose every call waits for a human's approval (an ``interrupt``).

    The original tool is left as it was, so it can be given elsewhere without approval.
    """
    return tool.model_copy(update={"metadata": {**(tool.metadata or {}), APPROVAL_KEY: True}})


def with_timeout(tool: BaseTool, seconds: float | None) -> BaseTool:
    """A copy of ``tool`` whose every call ends after ``seconds`` with an error result.

    It wins over the agent's ``Agent(tool_timeout=...)``; ``None`` means no limit for this
    tool even when the agent sets one. A timed-out call reaches the model as
    ``ToolMessage(status="error")`` reading "tool 'NAME' timed out after N s ...". An async
    tool is cancelled; a sync tool cannot be interrupted: it is left running in its daemon
    thread and the run goes on.

    Args:
        tool: any LangChain tool (left as it was).
        seconds: the limit in seconds (> 0), or None.

    Raises:
        SpecError: (a ``ValueError``) ``seconds`` is not a finite number > 0, nor None.
    """
    if seconds is not None:
        _check_seconds(seconds, f"with_timeout({tool.name!r})")
    return tool.model_copy(update={"metadata": {**(tool.metadata or {}), TIMEOUT_KEY: seconds}})


def _check_seconds(seconds: Any, where: str) -> None:
    ok = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not ok or not math.isfinite(seconds) or seconds <= 0:
        raise SpecError(f"{where}: a timeout must be a number of seconds > 0, got {seconds!r}")


def _timeouts(plan: AgentPlan) -> dict[str, float | None]:
    """Each own tool's timeout: its ``with_timeout`` value, else the agent's."""
    out: dict[str, float | None] = {}
    for name, tool in plan.tools.items():
        meta = tool.metadata or {}
        seconds = meta.get(TIMEOUT_KEY, plan.agent.tool_timeout)
        if seconds is not None:
            _check_seconds(seconds, f"agent {plan.agent.name!r}: tool {name!r}")
        out[name] = seconds
    return out


def _ask(plan: AgentPlan, tc: ToolCall, config: RunnableConfig) -> dict[str, Any] | None:
    """Interrupt for approval when the tool needs it; the rejection result, or None to run."""
    tool = plan.tools[tc["name"]]
    if not ((tool.metadata or {}).get(APPROVAL_KEY) or tc["name"] in plan.agent.needs_approval):
        return None
    scope = scope_of(config)  # the run's path: a graph may run at several places
    path = scope.usage.path if scope is not None else plan.path
    if (rejected := approve_tool(tuple(path), tc)) is None:
        return None
    msg = ToolMessage(content=rejected, tool_call_id=tc["id"] or "", name=tc["name"],
                      status="error")
    return {"messages": [msg]}


def make_tool_node(plan: AgentPlan) -> AgentNode:
    """Build the sync+async ``tools`` node: input ``{"tool_call": ToolCall}`` (a ``Send``).

    Written once as a step; under a budget's ``max_seconds`` deadline a call still running
    at it becomes an error result (cancelled in an async run, no longer waited on in a sync
    one: see ``nodes._node.Deadline``).

    Raises:
        SpecError: a tool's timeout (``with_timeout`` metadata) is not a number > 0.
    """
    tools = {name: guarded(tool) for name, tool in plan.tools.items()}
    timeouts = _timeouts(plan)

    def step(payload: dict[str, Any], config: RunnableConfig) -> Step[dict[str, Any]]:
        tc: ToolCall = payload["tool_call"]
        if (rejected := _ask(plan, tc, config)) is not None:
            return rejected
        scope = scope_of(config)
        emit = Emitter(scope, config)
        emit.tool_start(tc)
        name = tc["name"]
        request: Request[Any] = ToolRun(tools[name], tc, config, timeouts[name])
        if scope is not None and scope.budget is not None:
            request = Deadline(scope.budget, "a tool call", request)
        try:
            out = _ok(tc, (yield request))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a tool failure becomes a result the model reads
            out = _error(tc, exc)
        emit.tool_end(tc, out["messages"][0])
        return out

    return step_node(step, name="tools")
