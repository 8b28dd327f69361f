"""State schemas of an agent graph: ``messages``, plus a channel per feature the agent uses.

Every channel of a graph is created, read, copied into each checkpoint and mapped into each
stream step of every invocation, written or not; so an agent has only the channels it uses
(``usage`` on a root, ``structured_response`` with an output schema, ``budget_spent`` with a
budget, ``background`` with persisted background children).

``typing_extensions.TypedDict`` (not ``typing``'s): pydantic builds the graphs' input and
output JSON schemas from them on Python < 3.12 too (Studio's input form).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel
from typing_extensions import TypedDict, get_type_hints

__all__ = ["BACKGROUND_KEY", "SPENT_KEY", "STRUCTURED_KEY", "AgentState", "RootState",
           "StructuredAgentState", "StructuredRootState", "merge_jobs", "structured_state",
           "with_background", "with_spent"]

STRUCTURED_KEY = "structured_response"
"""State key of an agent's validated ``output_schema`` answer to its current task (reset
to None when a new task starts on the same thread: a persistent child, a root's next turn)."""

SPENT_KEY = "budget_spent"
"""State key of the spent counters of an agent under a budget (see ``AgentState``)."""


BACKGROUND_KEY = "background"
"""State key of an agent's background table as its checkpoint keeps it (see ``AgentState``)."""


def merge_jobs(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """The ``background`` channel's reducer: records by job id, the newest wins.

    Typed ``dict | None`` in the state, the channel starts empty (not ``{}``): an agent that
    started no persisted background child has no ``background`` key in its output.
    """
    return {**(old or {}), **(new or {})}


class AgentState(TypedDict):
    """State of an agent without an output schema.

    Attributes:
        messages: the agent's own history (task message, AI turns, tool results). It never
            holds a parent's or a child's messages.

    An agent under a ``Budget`` (its own or an ancestor's) has one more channel,
    ``budget_spent`` (see :func:`with_spent`); one with background children that may be persisted
    (``BackgroundConfig.persist`` not False) has ``background`` (see :func:`with_background`).
    """

    messages: Annotated[list[AnyMessage], add_messages]


class StructuredAgentState(AgentState):
    """State of an agent with ``output_schema``.

    Attributes:
        structured_response: the validated ``output_schema`` instance once ``final_answer``
            was accepted for the current task (None again when the next task on the same
            thread starts).
    """

    structured_response: NotRequired[Any]


class RootState(AgentState):
    """State of a root agent: its output also carries the run's usage tree.

    Attributes:
        usage: ``UsageNode.to_dict()`` of the root: per agent invocation model calls, tokens,
            tool calls, seconds and status, with totals summed up the tree.
    """

    usage: NotRequired[dict[str, Any]]


class StructuredRootState(StructuredAgentState):
    """State of a root agent with ``output_schema`` (see ``RootState``)."""

    usage: NotRequired[dict[str, Any]]


def structured_state(schema: type[BaseModel], *, root: bool) -> type[Any]:
    """The state of an agent whose ``output_schema`` is ``schema``, with the field typed.

    Typed, LangGraph's strict checkpoint serializer (``LANGGRAPH_STRICT_MSGPACK=true``)
    allows ``schema`` (and the models it nests) in this graph's checkpoints, and the output
    JSON schema shows it.

    Args:
        schema: the agent's output schema.
        root: a root agent's state (with ``usage``).

    Returns:
        A TypedDict shaped as ``StructuredRootState`` / ``StructuredAgentState``.
    """
    fields: dict[str, Any] = {"messages": Annotated[list[AnyMessage], add_messages],
                              "structured_response": NotRequired[schema]}
    if root:
        fields["usage"] = NotRequired[dict[str, Any]]
    name = "StructuredRootState" if root else "StructuredAgentState"
    state: type[Any] = TypedDict(name, fields)  # type: ignore[misc]
    return state


def _extended(state: type[Any], key: str, annotation: Any, suffix: str) -> type[Any]:
    """``state`` (a TypedDict) plus the field ``key: annotation``, named ``<state><suffix>``."""
    fields = dict(get_type_hints(state, include_extras=True))
    fields[key] = annotation
    extended: type[Any] = TypedDict(f"{state.__name__}{suffix}", fields)  # type: ignore[misc]
    return extended


def with_spent(state: type[Any]) -> type[Any]:
    """``state`` plus the ``budget_spent`` channel (an agent under a ``Budget``).

    The channel holds ``{"model_calls", "tool_rounds", "tokens", "cost", "tool_call_id"}``
    spent by this invocation and its sub-agents as of its last model node (``tokens`` in
    tokens, ``cost`` in USD), written with each of its updates (``RunScope.spent_record``).
    A resumed run goes on from it (``RunScope.restore``) instead of from zero. Only an agent
    with a ``Budget`` in its compile-time lineage (itself or an ancestor, see
    ``AgentPlan.budgeted``) has the channel; one run under a budget only at run time (a
    compiled agent invoked inside a budgeted run by your own graph or tool) is counted by
    that budget but does not checkpoint its counters.

    Args:
        state: one of the TypedDict states above (or a ``structured_state``).

    Returns:
        A TypedDict with ``state``'s fields plus ``budget_spent``.
    """
    return _extended(state, SPENT_KEY, NotRequired[dict[str, Any]], "WithBudget")


def with_background(state: type[Any]) -> type[Any]:
    """``state`` plus the ``background`` channel (``BackgroundConfig.persist`` None or True).

    The channel holds the background children started by this agent on a checkpointer
    thread: ``{id: {"id", "agent", "tool_call_id", "objective", "thread_id", "status",
    "result", "error", "messages"}}`` (``runtime.records.JobRecord``), written when they
    start and by every lifecycle call (reducer :func:`merge_jobs`); a new process continuing
    the thread re-attaches them (``nodes.reattach``). Only such agents have it: every other
    agent's steps read and write one channel less. Without a checkpointer thread nothing is
    written to it (the children live in the process).

    Args:
        state: one of the TypedDict states above (or a ``structured_state``).

    Returns:
        A TypedDict with ``state``'s fields plus ``background``.
    """
    return _extended(state, BACKGROUND_KEY,
                     NotRequired[Annotated[dict[str, Any] | None, merge_jobs]], "WithBackground")
