"""Thread-id schemes for persistent sub-agents.

A persistent sub-agent keeps one history per calling thread, in a checkpoint thread of its own:

    <parent thread_id>/<agent name>

where the parent thread is the thread of the agent that delegates (the root's thread, or a
persistent parent's own thread, so nesting composes: ``t1/explore/search``). Two different
persistent sub-agents never share a thread; every call of one sub-agent from the same parent
thread continues the same history. The task message of a call has the id
``task-<tool_call_id>``, which makes a re-sent task (after a crash) recognisable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig

__all__ = ["PersistenceFactory", "persistent_thread_id", "task_message_id"]

PersistenceFactory = Callable[[Any, RunnableConfig], tuple[Any, str]]
"""``(agent, parent_config) -> (checkpointer, thread_id)``: where a persistent sub-agent's
history lives instead of the default (the parent's checkpointer, the thread above)."""


def persistent_thread_id(parent_thread_id: str, agent: str) -> str:
    """The default thread id of persistent sub-agent ``agent`` called from a parent thread."""
    return f"{parent_thread_id}/{agent}"


def task_message_id(tool_call_id: str) -> str:
    """The message id of the task message a delegation with ``tool_call_id`` sends."""
    return f"task-{tool_call_id}"
