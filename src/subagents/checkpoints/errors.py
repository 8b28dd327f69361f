"""Telling storage failures from child failures.

A child graph writes its checkpoints through its parent's saver, so a storage fault (database
locked, disk full, read-only file, a lost Postgres connection) surfaces as an exception from
the child's run. It must not be recorded as a failed delegation: the delegation node
re-raises it, the run stops with the error, and the thread can be resumed once the fault is
gone. A child's own tools never reach here (their errors become tool results first).
"""

from __future__ import annotations

import sqlite3

__all__ = ["is_storage_error"]

_STORAGE_MODULES = ("sqlite3", "aiosqlite", "psycopg", "psycopg_pool", "asyncpg", "redis")


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a checkpoint-storage failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            return True
        if type(current).__module__.split(".")[0] in _STORAGE_MODULES:
            return True
        current = current.__cause__ or current.__context__
    return False
