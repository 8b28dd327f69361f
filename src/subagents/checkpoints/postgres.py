"""Postgres savers (``langgraph-checkpoint-postgres``) for roots and persistent sub-agents.

Two uses:

- a whole run on Postgres: ``async with async_postgres_saver(dsn) as saver:
  compile_agent(root, checkpointer=saver)``; sub-agents inherit it like any saver;
- only persistent sub-agents' histories in Postgres, the root anywhere (SQLite, memory):
  ``Agent(persistent=True, persistence=postgres_persistence(saver_or_dsn))``. The history of
  sub-agent ``a`` called from parent thread ``t`` lives in thread ``t/a`` (the
  ``checkpoints.threads`` scheme), so it continues across the parent's calls on ``t`` and no
  other sub-agent ever reads it.

Needs the ``postgres`` extra: ``langgraph-checkpoint-postgres`` and ``psycopg[binary]``.
``AsyncPostgresSaver`` serialises every statement on its connection (one lock); an async
saver is for async runs (``ainvoke``/``astream``): pass a sync ``PostgresSaver`` to
``postgres_persistence`` for sync runs.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from subagents.checkpoints.threads import persistent_thread_id

__all__ = ["PostgresPersistence", "async_postgres_saver", "postgres_persistence"]


async def _connect(dsn: str) -> AsyncConnection[Any]:
    # what AsyncPostgresSaver.from_conn_string uses: autocommit, no server-side prepares
    conn: AsyncConnection[Any] = await AsyncConnection.connect(
        dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    return conn


@asynccontextmanager
async def async_postgres_saver(dsn: str) -> AsyncIterator[AsyncPostgresSaver]:
    """Open an ``AsyncPostgresSaver`` on ``dsn`` with its tables set up, closed on exit.

    Args:
        dsn: a libpq connection string or URI (``postgresql://user@host:5432/db``,
            ``host=/run/postgresql dbname=app``).

    Yields:
        The saver; ``setup()`` (tables and migrations, idempotent) has run once.
    """
    conn = await _connect(dsn)
    try:
        saver = AsyncPostgresSaver(conn=conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


class _LazyPostgresSaver(AsyncPostgresSaver):
    """An ``AsyncPostgresSaver`` that connects (and sets up) on its first statement."""

    def __init__(self, dsn: str) -> None:
        super().__init__(conn=None)  # type: ignore[arg-type]
        self._dsn = dsn
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        if self.conn is None or self.conn.closed:
            async with self._opening:
                if self.conn is None or self.conn.closed:
                    conn = await _connect(self._dsn)
                    self.conn = conn
                    await self.setup()
        async with super()._cursor(pipeline=pipeline) as cur:
            yield cur

    async def aclose(self) -> None:
        if self.conn is not None and not self.conn.closed:
            await self.conn.close()


class PostgresPersistence:
    """A ``persistence`` factory: ``(agent, parent_config) -> (saver, thread_id)``.

    Built by :func:`postgres_persistence`. With a DSN it opens one connection per event loop
    on first use (an async saver is bound to its loop); :meth:`aclose` closes the current
    loop's connection.
    """

    def __init__(self, target: str | BaseCheckpointSaver[Any]) -> None:
        self._saver = target if isinstance(target, BaseCheckpointSaver) else None
        self._dsn = target if isinstance(target, str) else None
        if self._saver is None and not self._dsn:
            msg = f"postgres_persistence needs a DSN or a checkpoint saver, got {target!r}"
            raise TypeError(msg)
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                  _LazyPostgresSaver] = (
            weakref.WeakKeyDictionary())

    def saver(self) -> BaseCheckpointSaver[Any]:
        """The saver for the running event loop (the given one, if a saver was given)."""
        if self._saver is not None:
            return self._saver
        loop = asyncio.get_running_loop()  # RuntimeError in sync code: use a sync saver
        saver = self._per_loop.get(loop)
        if saver is None:
            assert self._dsn is not None
            saver = self._per_loop[loop] = _LazyPostgresSaver(self._dsn)
        return saver

    def __call__(self, agent: Any, parent_config: RunnableConfig) -> tuple[Any, str]:
        """(saver, ``<parent thread>/<agent name>``) for one call of a persistent sub-agent."""
        parent = (parent_config.get("configurable") or {}).get("thread_id")
        if parent is None:
            msg = (f"persistent sub-agent '{agent.name}' keeps its history in Postgres per "
                   "parent thread: run the parent with configurable.thread_id")
            raise ValueError(msg)
        return self.saver(), persistent_thread_id(str(parent), agent.name)

    async def aclose(self) -> None:
        """Close the connection this factory opened for the running event loop, if any."""
        saver = self._per_loop.pop(asyncio.get_running_loop(), None)
        if saver is not None:
            await saver.aclose()

    def __repr__(self) -> str:
        return f"postgres_persistence({'<saver>' if self._saver is not None else '<dsn>'})"


def postgres_persistence(target: str | BaseCheckpointSaver[Any]) -> PostgresPersistence:
    """A ``persistence`` factory keeping persistent sub-agents' histories in Postgres.

    Args:
        target: an open saver (``async_postgres_saver(dsn)``'s, or a sync ``PostgresSaver``
            for sync runs), or a DSN: then a connection is opened (and the tables set up) on
            first use in each event loop, async runs only.

    Returns:
        A factory for ``Agent(persistent=True, persistence=...)``: the history of sub-agent
        ``a`` called from parent thread ``t`` lives in Postgres thread ``t/a``.

    Example:
        >>> async with async_postgres_saver(dsn) as pg:  # doctest: +SKIP
        ...     notes = Agent(name="notes", persistent=True,
        ...                   persistence=postgres_persistence(pg))
    """
    return PostgresPersistence(target)
