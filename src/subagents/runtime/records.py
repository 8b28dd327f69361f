"""How a parent's checkpoint keeps its background children (see ``nodes.reattach``).

Each background child of a parent on a checkpointer thread runs on its own checkpoint thread
(:func:`background_thread_id`) and is kept in the parent's ``background`` state channel as a
:class:`JobRecord`'s fields, so a new process continuing the thread re-attaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from subagents.results import Status

__all__ = ["JobRecord", "background_thread_id"]


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One background child as its parent's checkpoint keeps it (the ``background`` channel).

    Attributes:
        id: the id the parent model uses.
        agent: the child's name.
        tool_call_id: the call that started it.
        objective: its task.
        thread_id: its own checkpoint thread.
        status: a ``Status`` value (``running`` until it settled).
        result: its result once settled.
        error: its error once settled.
        messages: every ``agent_message`` sent to it, ``[[message id, text], ...]``.
    """

    id: str
    agent: str
    tool_call_id: str
    objective: str
    thread_id: str | None
    status: str
    result: Any = None
    error: str | None = None
    messages: Any = None

    @classmethod
    def read(cls, value: Any) -> JobRecord | None:
        """A record from a checkpointed dict, or None when it is not one."""
        if not isinstance(value, dict):
            return None
        fields: dict[str, Any] = {k: value.get(k) for k in _RECORD_FIELDS}
        if not all(isinstance(fields[k], str) for k in ("id", "agent", "tool_call_id",
                                                         "objective", "status")):
            return None
        try:
            Status(fields["status"])
        except ValueError:
            return None
        return cls(**fields)


_RECORD_FIELDS = ("id", "agent", "tool_call_id", "objective", "thread_id", "status", "result",
                  "error", "messages")


def background_thread_id(parent_thread_id: str, tool_call_id: str) -> str:
    """The checkpoint thread of the background child a parent thread's call started.

    ``<parent thread_id>/bg/<tool_call_id>``: a resumed parent finds it again from its own
    thread and the call (a re-run of the starting node too), whatever the job's id.
    """
    return f"{parent_thread_id}/bg/{tool_call_id}"
