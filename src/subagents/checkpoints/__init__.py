"""Checkpoint savers: SQLite (the embedded default) and in-memory (tests).

Sub-agents inherit their parent's saver: a child's checkpoints live in the parent's thread
under the delegation node's ``checkpoint_ns`` (``<node>:<task_id>``), so a resumed parent
re-runs no finished delegation and a crashed child resumes from its own last step.
Persistent and background children write threads of their own under the parent's
(``<thread_id>/...``); ``delete_thread`` deletes a conversation with them.
"""

from subagents.checkpoints.events_log import EventLog
from subagents.checkpoints.sqlite import async_sqlite_saver, memory_saver, sqlite_saver
from subagents.checkpoints.threads import adelete_thread, delete_thread, thread_family

__all__ = ["EventLog", "adelete_thread", "async_sqlite_saver", "delete_thread", "memory_saver",
           "sqlite_saver", "thread_family"]
