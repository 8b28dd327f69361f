r"""The durable job table of the dispatcher (SQLite, beside the checkpoints).

A job is one delegation that must happen even if no parent waits for it: fire-and-forget
with a delivery target, at a time, or recurring by cron. States::

    scheduled (cron template) --fire--> pending --claim--> running --> done --> delivered
                                                                        \-> delivery_failed
    scheduled --unschedule--> unscheduled;   pending / running --cancel--> cancelled
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

__all__ = ["Job", "JobStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subagent_jobs (
    id TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL, delivery TEXT,
    cron TEXT, run_at REAL NOT NULL, status TEXT NOT NULL, result TEXT, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL, created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS subagent_jobs_due ON subagent_jobs (status, run_at);
"""
_COLUMNS = ("id", "agent", "task", "delivery", "cron", "run_at", "status", "result", "error",
            "attempts", "next_attempt", "created", "updated", "origin")
_JSON = ("delivery", "result", "origin")


@dataclass(slots=True)
class Job:
    """One row of the job table (times in seconds since the epoch)."""

    id: str
    agent: str
    task: str
    delivery: dict[str, Any] | None
    cron: str | None
    run_at: float
    status: str
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    next_attempt: float | None
    created: float
    updated: float
    origin: dict[str, Any] | None = None
    """Who asked: the parent run's ``thread_id``, ``run_id``, ``tool_call_id`` and the
    child's ancestry ``path`` (None for a job submitted directly)."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        """A job from a table row (JSON columns decoded)."""
        data = dict(zip(_COLUMNS, row, strict=True))
        for key in _JSON:
            data[key] = json.loads(data[key]) if data[key] else None
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """The JSON shape users and parent models read."""
        return {"id": self.id, "agent": self.agent, "status": self.status,
                "result": self.result, "error": self.error, "run_at": self.run_at,
                "cron": self.cron, "attempts": self.attempts, "origin": self.origin}


class JobStore:
    """Async access to ``subagent_jobs``; every state change is one committed statement."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def setup(self) -> None:
        """Create the table (idempotent)."""
        await self.conn.executescript(_SCHEMA)
        cur = await self.conn.execute("PRAGMA table_info(subagent_jobs)")
        if "origin" not in {row[1] for row in await cur.fetchall()}:  # a table of 0.x
            await self.conn.execute("ALTER TABLE subagent_jobs ADD COLUMN origin TEXT")
        await self.conn.commit()

    async def add(self, job_id: str, agent: str, task: str, *, delivery: dict[str, Any] | None,
                  cron: str | None, run_at: float, status: str,
                  origin: dict[str, Any] | None = None) -> bool:
        """Insert a job; False when the id exists already (submissions are idempotent)."""
        now = time.time()
        cur = await self.conn.execute(
            "INSERT OR IGNORE INTO subagent_jobs (id, agent, task, delivery, cron, run_at, "
            "status, created, updated, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, agent, task, json.dumps(delivery) if delivery else None, cron, run_at,
             status, now, now, json.dumps(origin) if origin else None))
        await self.conn.commit()
        return cur.rowcount == 1

    async def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        cur = await self.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM subagent_jobs WHERE id = ?", (job_id,))
        row = await cur.fetchone()
        return Job.from_row(row) if row else None

    async def select(self, where: str, args: Sequence[Any] = ()) -> list[Job]:
        """Jobs matching a SQL condition, oldest first."""
        cur = await self.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM subagent_jobs WHERE {where} ORDER BY run_at, id",
            tuple(args))
        return [Job.from_row(r) for r in await cur.fetchall()]

    async def move(self, job_id: str, old: str, new: str, **fields: Any) -> bool:
        """Compare-and-set the status (and set fields); False if another worker moved it."""
        sets = ", ".join(f"{k} = ?" for k in ("status", *fields, "updated"))
        values = [new, *(_dump(v) for v in fields.values()), time.time(), job_id, old]
        cur = await self.conn.execute(
            f"UPDATE subagent_jobs SET {sets} WHERE id = ? AND status = ?", values)
        await self.conn.commit()
        return cur.rowcount == 1


def _dump(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value
