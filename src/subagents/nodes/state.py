"""State schemas of an agent graph (one channel, two with an output schema)."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["SPENT_KEY", "AgentState", "RootState", "StructuredAgentState", "StructuredRootState"]

SPENT_KEY = "budget_spent"
"""State key of the spent counters of an agent under a budget (see ``AgentState``)."""


class AgentState(TypedDict):
    """State of an agent without an output schema.

    Attributes:
        messages: the agent's own history (task message, AI turns, tool results). It never
            holds a parent's or a child's messages.
        budget_spent: under a ``Budget``: ``{"model_calls", "tool_rounds", "tokens",
            "tool_call_id"}`` spent by this invocation and its sub-agents as of its last model
            node, written with each of its updates. A resumed run goes on from it (see
            ``RunScope.restore``) instead of from zero.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    budget_spent: NotRequired[dict[str, Any]]


class StructuredAgentState(AgentState):
    """State of an agent with ``output_schema``.

    Attributes:
        structured_response: the validated ``output_schema`` instance once ``final_answer``
            was accepted.
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
