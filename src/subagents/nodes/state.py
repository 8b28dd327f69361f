"""State schemas of an agent graph (one channel, two with an output schema)."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["AgentState", "StructuredAgentState"]


class AgentState(TypedDict):
    """State of an agent without an output schema.

    Attributes:
        messages: the agent's own history (task message, AI turns, tool results). It never
            holds a parent's or a child's messages.
    """

    messages: Annotated[list[AnyMessage], add_messages]


class StructuredAgentState(AgentState):
    """State of an agent with ``output_schema``.

    Attributes:
        structured_response: the validated ``output_schema`` instance once ``final_answer``
            was accepted.
    """

    structured_response: NotRequired[Any]
