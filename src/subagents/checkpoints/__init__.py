"""Checkpoint savers: SQLite (the embedded default) and in-memory (tests).

Sub-agents inherit their parent's saver: a child's checkpoints live in the parent's thread
under the delegation node's ``checkpoint_ns`` (``<node>:<task_id>``), so a resumed parent
re-runs no finished delegation and a crashed child resumes from its own last step.
"""

from subagents.checkpoints.events_log import EventLog
from subagents.checkpoints.sqlite import async_sqlite_saver, memory_saver, sqlite_saver

__all__ = ["EventLog", "async_sqlite_saver", "memory_saver", "sqlite_saver"]
