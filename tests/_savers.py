"""``DurableSaver``: savers on named stores that outlive a process (``durable_saver``)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents.checkpoints import async_sqlite_saver

__all__ = ["DurableSaver"]


@dataclass
class DurableSaver:
    """Opens savers on named stores that outlive the process (a restarted run's saver).

    ``open(name)`` is an async context manager yielding a new saver (its own connection) on
    store ``name``: an SQLite file in the test's ``tmp_path``, or a Postgres database of the
    session's server (created on first use, dropped after the test). Safe to call in a forked
    child process: only the path or DSN crosses the fork.
    """

    kind: str
    folder: Path
    dsn: Callable[[str], str] | None = None

    def file(self, name: str) -> Path:
        """The SQLite file of store ``name`` (SQLite only)."""
        return self.folder / f"{name}.sqlite"

    @asynccontextmanager
    async def open(self, name: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
        """A new saver on store ``name``; closed on exit."""
        if self.dsn is None:
            async with async_sqlite_saver(self.file(name)) as saver:
                yield saver
            return
        postgres = importlib.import_module("subagents.checkpoints.postgres")
        async with postgres.async_postgres_saver(self.dsn(name)) as pg:
            yield pg
