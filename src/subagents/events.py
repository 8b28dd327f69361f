"""Typed events of a run: one tree, every event tagged with its agent's ancestry path.

Events of every depth bubble up to the root, in order per agent, for sync, parallel and
background children alike. Three ways to receive them:

- ``Agent(on_subagent_event=fn)``: ``fn(path, event)`` for every event below that agent
  (as OpenHarness's ``onSubagentEvent``).
- :func:`subagents.stream_events`: an async iterator over one run's events, or
  :func:`subagents.observe` with ``on_event=``.
- LangGraph's ``stream_mode="custom"`` with ``subgraphs=True``: each event as a dict
  (``event.model_dump(mode="json")``) from every depth, namespaced like any LangGraph custom
  chunk. (Without ``subgraphs=True`` LangGraph gives nested graphs no stream, and no events
  are built at all: a run nobody listens to pays nothing for events.)
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from subagents.results import Status

__all__ = [
    "EVENT_ADAPTER",
    "BaseEvent",
    "ModelEnd",
    "ModelStart",
    "RunEnd",
    "SubagentEnd",
    "SubagentEvent",
    "SubagentMessage",
    "SubagentRetry",
    "SubagentStart",
    "TextDelta",
    "ToolEnd",
    "ToolStart",
]


class BaseEvent(BaseModel):
    """Fields every event has.

    Attributes:
        path: ancestry path from the root, this agent last (``["dev", "explore"]``).
        agent: the agent the event is about (``path[-1]``).
        tool_call_id: the parent's tool call that started this agent (None for the root).
        ts: wall-clock time of the event, seconds since the epoch.
    """

    model_config = ConfigDict(frozen=True)

    path: list[str]
    agent: str
    tool_call_id: str | None = None
    ts: float = Field(default_factory=time.time)


class SubagentStart(BaseEvent):
    """A delegation started a sub-agent.

    A delegation the runtime refused (nothing ran) has its ``subagent_start`` too, followed at
    once by its ``subagent_end`` with ``refused=True``.
    """

    type: Literal["subagent_start"] = "subagent_start"
    objective: str
    background: bool = False


class SubagentEnd(BaseEvent):
    """A sub-agent ended; ``usage`` is its ``UsageNode.to_dict()`` (totals included).

    ``refused``: the runtime answered the delegation call itself and no child ran (an agent
    outside the allow list, the depth limit, arguments that are not JSON or not valid for
    the child, the loop guard, a duplicate of a call in the same reply, a call beside
    ``final_answer``); ``status`` and ``error`` are those of the tool result the parent
    model got, ``usage`` is empty.

    ``attempts``: how many attempts ran (``Agent.retry``); ``errors``: those of the failed
    ones; ``usage`` is then the last attempt's (each attempt has its own usage node).
    """

    type: Literal["subagent_end"] = "subagent_end"
    status: Status
    result: Any = None
    error: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    refused: bool = False
    attempts: int = 1
    errors: list[str] = Field(default_factory=list)


class SubagentRetry(BaseEvent):
    """An attempt of a delegation failed and the child will be run again (``Agent.retry``).

    Comes between the delegation's ``subagent_start`` and its one ``subagent_end``, at the
    child's path. ``attempt``: the number of the attempt that failed (1 first); ``status``:
    how it ended (``failed`` or ``timeout``); ``error``: why; ``delay``: seconds waited
    before the next attempt (the policy's backoff); ``usage``: the failed attempt's usage
    node (``UsageNode.to_dict()``).
    """

    type: Literal["subagent_retry"] = "subagent_retry"
    attempt: int
    status: Status
    error: str | None = None
    delay: float = 0.0
    usage: dict[str, Any] = Field(default_factory=dict)


class SubagentMessage(BaseEvent):
    """A parent sent a follow-up message to its running background child (``agent_message``).

    At the child's path; the child reads it at its next model call.

    Attributes:
        id: the child's background id.
        message_id: the message's id (the id of the human message the child reads).
        text: the message.
    """

    type: Literal["subagent_message"] = "subagent_message"
    id: str
    message_id: str
    text: str


class TextDelta(BaseEvent):
    """A streamed piece of an agent's model output (when the model streams)."""

    type: Literal["text_delta"] = "text_delta"
    text: str


class ModelStart(BaseEvent):
    """An agent calls its model with ``messages`` messages."""

    type: Literal["model_start"] = "model_start"
    messages: int


class ModelEnd(BaseEvent):
    """An agent's model replied (text shortened to 500 characters).

    ``usage``: the reply's ``usage_metadata``; ``cost``: the call's price in US dollars,
    None when unknown (see :mod:`subagents.runtime.cost`).
    """

    type: Literal["model_end"] = "model_end"
    text: str = ""
    tool_calls: list[str] = Field(default_factory=list)
    usage: dict[str, Any] | None = None
    cost: float | None = None


class ToolStart(BaseEvent):
    """An agent's own tool starts (``call_id``: this tool call's id)."""

    type: Literal["tool_start"] = "tool_start"
    name: str
    call_id: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolEnd(BaseEvent):
    """An agent's own tool ended (content shortened to 2,000 characters)."""

    type: Literal["tool_end"] = "tool_end"
    name: str
    call_id: str
    status: Literal["success", "error"] = "success"
    content: str = ""


class RunEnd(BaseEvent):
    """The last event of :func:`subagents.stream_events`: the run's output state.

    Not emitted by agents (it is not in the ``custom`` stream or the event log): the iterator
    yields it once the run returned, so one call gives the events and the result.

    Attributes:
        output: what ``graph.ainvoke`` returned (``messages``, ``usage``, ...; with
            ``__interrupt__`` when the run paused).
    """

    type: Literal["run_end"] = "run_end"
    output: dict[str, Any]


SubagentEvent = Annotated[
    SubagentStart | SubagentEnd | SubagentRetry | SubagentMessage | TextDelta | ModelStart
    | ModelEnd | ToolStart | ToolEnd,
    Field(discriminator="type"),
]
"""Any event (a discriminated union on ``type``)."""
EVENT_ADAPTER: TypeAdapter[SubagentEvent] = TypeAdapter(SubagentEvent)
"""Parses an event dict back into its class (``EVENT_ADAPTER.validate_python(d)``)."""
