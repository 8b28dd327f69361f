"""Delegation nodes: one per allowed child, each running the child's compiled subgraph.

The node receives ``{"tool_call": ToolCall}`` through a ``Send``, builds the child's one task
message from the call's arguments (the child sees nothing else), invokes the child graph, and
returns exactly one ``ToolMessage`` holding the typed JSON result. Nothing a child does (an
exception, ``GraphRecursionError``) escapes to the parent, except LangGraph's interrupts
(``GraphBubbleUp``) and cancellation, which must.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp

from subagents.nodes._decide import ERROR_KEY
from subagents.nodes.plan import STOP_KEY, ChildLink
from subagents.nodes.schemas import task_message
from subagents.results import Status, tool_result

__all__ = ["child_outcome", "make_delegate_node"]


def child_outcome(link: ChildLink, state: dict[str, Any]) -> tuple[Status, Any, str | None]:
    """Read a child's final state: (status, result, error).

    ``result`` is the validated output schema as a JSON object when the child has one, else
    the child's last AI text.
    """
    last = next((m for m in reversed(state.get("messages", [])) if isinstance(m, AIMessage)),
                None)
    text = last.text if last is not None else ""
    stop = last.response_metadata.get(STOP_KEY) if last is not None else None
    if link.agent.output_schema is not None:
        value = state.get("structured_response")
        if value is not None:
            data = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
            return Status.COMPLETED, data, None
        if stop in ("max_steps", "repeated_tool_call"):
            return Status.MAX_STEPS, text, "ended before a valid final_answer"
        error = (last.response_metadata.get(ERROR_KEY) if last is not None else None)
        return Status.FAILED, text or None, error or "no valid final_answer"
    if stop == "max_steps":
        return Status.MAX_STEPS, text, f"stopped after max_steps={link.agent.max_steps}"
    return Status.COMPLETED, text, None


def _result(link: ChildLink, tc: ToolCall, status: Status, result: Any,
            error: str | None) -> dict[str, Any]:
    msg = tool_result(status, link.agent.name, tool_call_id=tc["id"] or "", tool_name=tc["name"],
                      result=result, error=error)
    return {"messages": [msg]}


def _failed(link: ChildLink, tc: ToolCall, exc: BaseException) -> dict[str, Any]:
    return _result(link, tc, Status.FAILED, None, f"{type(exc).__name__}: {exc}")


def _child_config(link: ChildLink) -> RunnableConfig:
    # Each graph counts its own supersteps: two per model step, plus the forced last call.
    return {"recursion_limit": 2 * link.agent.max_steps + 6}


def make_delegate_node(link: ChildLink) -> RunnableCallable:
    """Build the sync+async delegation node for one child (named ``link.node``)."""
    graph: Runnable[Any, Any] | None = link.graph

    def prepare(tc: ToolCall) -> dict[str, Any] | ToolMessage:
        message = task_message(link.agent, tc["args"])
        if isinstance(message, str):
            return tool_result(Status.FAILED, link.agent.name, tool_call_id=tc["id"] or "",
                               tool_name=tc["name"], error=message)
        return {"messages": [message]}

    def run(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tc: ToolCall = payload["tool_call"]
        task = prepare(tc)
        if isinstance(task, ToolMessage):
            return {"messages": [task]}
        assert graph is not None
        try:
            state = graph.invoke(task, _child_config(link))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a failing child never takes the parent down
            return _failed(link, tc, exc)
        return _result(link, tc, *child_outcome(link, state))

    async def arun(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tc: ToolCall = payload["tool_call"]
        task = prepare(tc)
        if isinstance(task, ToolMessage):
            return {"messages": [task]}
        assert graph is not None
        try:
            state = await graph.ainvoke(task, _child_config(link))
        except GraphBubbleUp:
            raise
        except Exception as exc:  # a failing child never takes the parent down
            return _failed(link, tc, exc)
        return _result(link, tc, *child_outcome(link, state))

    return RunnableCallable(run, arun, name=link.node, trace=False)
