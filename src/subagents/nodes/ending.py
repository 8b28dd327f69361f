"""How a child run ended: one function, :func:`read_ending`, for every kind of child.

A delegation, a pipeline step and a detached job (``subagents.dispatch``) all read a child's
final state with :func:`read_ending` into one :class:`~subagents.results.Ending`: a local
agent from its last AI message and structured response (:func:`ending`), an own graph
(``Agent.from_graph``) with :func:`graph_ending`. A remote child (``subgraphs.remote``)
returns its run's final state with real message objects, so it is read like a local agent.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from subagents.nodes._decide import _UNSET, ANSWER_CHECK, ERROR_KEY, LOOP_STOP
from subagents.nodes.plan import STOP_KEY
from subagents.nodes.state import STRUCTURED_KEY
from subagents.results import Ending, Status
from subagents.spec import Agent

__all__ = ["OUTCOME_KEY", "ending", "graph_ending", "read_ending"]

OUTCOME_KEY = "subagents_outcome"
"""Key of the child state an own graph's wrapper returns: ``(status, result, error)``."""


def read_ending(agent: Agent, state: Any) -> Ending:
    """How a child run of ``agent`` ended, from the final state it returned.

    Args:
        agent: the child's spec.
        state: the child graph's final state (``{"messages": [...], ...}``); for an own
            graph (``agent.graph``), whatever the graph returned.

    Returns:
        The ending: see :func:`ending` (a local or remote agent) and :func:`graph_ending`
        (an own graph).
    """
    if agent.graph is not None:
        return graph_ending(agent.graph, state)
    last = next((m for m in reversed(state.get("messages", [])) if isinstance(m, AIMessage)),
                None)
    return ending(agent, last, state.get(STRUCTURED_KEY))


def ending(agent: Agent, last: AIMessage | None, structured: Any) -> Ending:
    """How an agent ended, from its last AI message and its structured response.

    Args:
        agent: the agent's spec (its ``output_schema`` and ``max_steps``).
        last: its last AI message (None: it has none).
        structured: its validated output schema instance (None or ``_decide``'s unset
            marker: none).

    Returns:
        ``result`` is the validated output schema as a JSON object when the agent has one,
        else its last AI text. ``error`` is None for ``completed`` except after an answer
        check rejected the last answer at its bound (its complaint). An agent the loop guard
        stopped ends ``failed`` with its forced answer as ``result`` (None when empty) and
        the guard's reason as ``error``.
    """
    text = last.text if last is not None else ""
    meta = last.response_metadata if last is not None else {}
    stop, error = meta.get(STOP_KEY), meta.get(ERROR_KEY)
    if stop == "over_budget":
        return Ending(Status.OVER_BUDGET, text or None, error)
    if agent.output_schema is not None:
        if structured is not None and structured is not _UNSET:
            data = structured.model_dump(mode="json") if hasattr(structured, "model_dump") \
                else structured
            return Ending(Status.COMPLETED, data)
        if stop == "max_steps":
            return Ending(Status.MAX_STEPS, text, "ended before a valid final_answer")
        return Ending(Status.FAILED, text or None, error or "no valid final_answer")
    if stop == "max_steps":
        return Ending(Status.MAX_STEPS, text, f"stopped after max_steps={agent.max_steps}")
    if stop == LOOP_STOP:  # cut off: the forced answer is kept as a partial result
        return Ending(Status.FAILED, text or None, error or "stopped by the loop guard")
    if stop == ANSWER_CHECK:  # completed, the check's last complaint kept for the parent
        return Ending(Status.COMPLETED, text, error)
    return Ending(Status.COMPLETED, text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value, fallback=str)


def graph_ending(spec: Any, state: Any) -> Ending:
    """How an own graph (``Agent.from_graph``) ended, from what it returned.

    Args:
        spec: the agent's ``GraphSpec`` (its ``output`` mapping, if any).
        state: what the graph or Runnable returned.

    Returns:
        The wrapper's recorded ending (``state[OUTCOME_KEY]``) when present; else
        ``completed`` with ``output(state)``, or by default the state's
        ``structured_response`` (JSON-ready), its last AI message's text, a returned string
        or message's text; ``failed`` when the mapping raises or the state holds none of
        these (the error says to give ``output=``).
    """
    if isinstance(state, dict) and OUTCOME_KEY in state:
        status, result, error = state[OUTCOME_KEY]
        return Ending(Status(status), result, error)
    if spec.output is not None:
        try:
            return Ending(Status.COMPLETED, _jsonable(spec.output(state)))
        except Exception as exc:
            return Ending(Status.FAILED, None,
                          f"output mapping raised {type(exc).__name__}: {exc}")
    if isinstance(state, str):
        return Ending(Status.COMPLETED, state)
    if isinstance(state, BaseMessage):
        return Ending(Status.COMPLETED, state.text)
    if isinstance(state, dict):
        if state.get("structured_response") is not None:
            return Ending(Status.COMPLETED, _jsonable(state["structured_response"]))
        messages = state.get("messages")
        if isinstance(messages, list):
            last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
            return Ending(Status.COMPLETED, last.text if last is not None else "")
    keys = sorted(state) if isinstance(state, dict) else type(state).__name__
    return Ending(Status.FAILED, None, f"the graph's output has no 'messages' nor "
                  f"'structured_response' ({keys}): give Agent.from_graph(output=...)")
