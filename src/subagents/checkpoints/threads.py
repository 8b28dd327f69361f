"""Thread ids of sub-agents, and deleting a conversation with its sub-agents' threads.

A persistent sub-agent keeps one history per calling thread, in a checkpoint thread of its own:

    <parent thread_id>/<agent name>

where the parent thread is the thread of the agent that delegates (the root's thread, or a
persistent parent's own thread, so nesting composes: ``t1/explore/search``). Two different
persistent sub-agents never share a thread; every call of one sub-agent from the same parent
thread continues the same history. The task message of a call has the id
``task-<tool_call_id>``, which makes a re-sent task (after a crash) recognisable. A
background child with its own thread runs on ``<parent thread_id>/bg/<tool_call_id>``
(``runtime.records``), a persistent child's retry attempt ``n`` on ``<its thread>#<n>``:
every thread a conversation's sub-agents write starts with ``<parent thread_id>/``, which is
how :func:`delete_thread` finds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["PersistenceFactory", "adelete_thread", "delete_thread", "persistent_thread_id",
           "task_message_id", "thread_family"]

PersistenceFactory = Callable[[Any, RunnableConfig], tuple[Any, str]]
"""``(agent, parent_config) -> (checkpointer, thread_id)``: where a persistent sub-agent's
history lives instead of the default (the parent's checkpointer, the thread above)."""


def persistent_thread_id(parent_thread_id: str, agent: str) -> str:
    """The default thread id of persistent sub-agent ``agent`` called from a parent thread."""
    return f"{parent_thread_id}/{agent}"


def task_message_id(tool_call_id: str) -> str:
    """The message id of the task message a delegation with ``tool_call_id`` sends."""
    return f"task-{tool_call_id}"


def _member(thread_id: str, candidate: object) -> bool:
    return isinstance(candidate, str) and (candidate == thread_id
                                           or candidate.startswith(thread_id + "/"))


def thread_family(saver: BaseCheckpointSaver[Any], thread_id: str) -> list[str]:
    """``thread_id`` and the threads its sub-agents wrote in ``saver``, those that exist.

    A sub-agent's thread is one whose id starts with ``<thread_id>/`` (persistent children,
    background children's own threads, their nested children). Reads the metadata of every
    checkpoint of ``saver`` (``saver.list(None)``): time grows with the saver's size.

    Returns:
        The thread ids, sorted; empty when none has a checkpoint.
    """
    found = {str(t.config["configurable"]["thread_id"]) for t in saver.list(None)
             if _member(thread_id, t.config["configurable"].get("thread_id"))}
    return sorted(found)


def delete_thread(saver: BaseCheckpointSaver[Any], thread_id: str) -> list[str]:
    """Delete a conversation's thread and every sub-agent thread under it (sync savers).

    LangGraph's ``saver.delete_thread(thread_id)`` deletes only that thread; the histories
    of its persistent and background sub-agents live on threads of their own
    (``<thread_id>/...``, see :func:`thread_family`) and would stay. A thread id of your own
    that starts with ``<thread_id>/`` is deleted too. Threads a ``persistence`` factory put
    in another saver, and a dispatcher's ``job-<id>`` threads, are not touched.

    Args:
        saver: the checkpointer the graph was compiled with.
        thread_id: the conversation's ``configurable["thread_id"]``.

    Returns:
        The deleted thread ids, sorted.

    Raises:
        NotImplementedError: the saver cannot delete threads.
    """
    family = thread_family(saver, thread_id)
    for member in family:
        saver.delete_thread(member)
    return family


async def adelete_thread(saver: BaseCheckpointSaver[Any], thread_id: str) -> list[str]:
    """:func:`delete_thread` for async savers (``AsyncSqliteSaver``, ``AsyncPostgresSaver``)."""
    found = {str(t.config["configurable"]["thread_id"]) async for t in saver.alist(None)
             if _member(thread_id, t.config["configurable"].get("thread_id"))}
    family = sorted(found)
    for member in family:
        await saver.adelete_thread(member)
    return family
