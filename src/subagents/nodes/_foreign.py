"""The result of an own-graph sub-agent (``Agent.from_graph``) from its final state."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from subagents.results import Status

__all__ = ["OUTCOME_KEY", "foreign_outcome"]

OUTCOME_KEY = "subagents_outcome"
"""Key of the child state a foreign graph's wrapper returns: ``(status, result, error)``."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value, fallback=str)


def foreign_outcome(spec: Any, state: Any) -> tuple[Status, Any, str | None]:
    """(status, result, error) of a foreign graph that returned ``state``.

    Args:
        spec: the agent's ``GraphSpec`` (its ``output`` mapping, if any).
        state: what the graph or Runnable returned.

    Returns:
        ``completed`` with ``output(state)``, or by default the state's
        ``structured_response`` (JSON-ready), its last AI message's text, a returned string
        or message's text; ``failed`` when the mapping raises or the state holds none of
        these (the error says to give ``output=``).
    """
    if isinstance(state, dict) and OUTCOME_KEY in state:
        status, result, error = state[OUTCOME_KEY]
        return Status(status), result, error
    if spec.output is not None:
        try:
            return Status.COMPLETED, _jsonable(spec.output(state)), None
        except Exception as exc:
            return Status.FAILED, None, f"output mapping raised {type(exc).__name__}: {exc}"
    if isinstance(state, str):
        return Status.COMPLETED, state, None
    if isinstance(state, BaseMessage):
        return Status.COMPLETED, state.text, None
    if isinstance(state, dict):
        if state.get("structured_response") is not None:
            return Status.COMPLETED, _jsonable(state["structured_response"]), None
        messages = state.get("messages")
        if isinstance(messages, list):
            last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
            return Status.COMPLETED, last.text if last is not None else "", None
    keys = sorted(state) if isinstance(state, dict) else type(state).__name__
    return (Status.FAILED, None, f"the graph's output has no 'messages' nor "
            f"'structured_response' ({keys}): give Agent.from_graph(output=...)")
