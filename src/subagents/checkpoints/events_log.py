"""A persisted event log beside the checkpoints (SQLite), so a run's tree can be redrawn.

Writes go through one background thread (the event loop never blocks on disk).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

from subagents.events import EVENT_ADAPTER, BaseEvent, SubagentEvent

__all__ = ["EventLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subagent_events (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, type TEXT NOT NULL,
    path TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)
)
"""


class EventLog:
    """Append-only SQLite log of run events (table ``subagent_events``).

    Args:
        path: the database file (may be the checkpoint file itself: its own table).

    Example:
        >>> log = EventLog("runs.sqlite")
        >>> # scope, cfg = observe(on_event=log.sink("run-1")); ...; log.close()
        >>> # log.events("run-1") -> [SubagentStart(...), ...]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_SCHEMA)
        self._queue: queue.Queue[tuple[str, int, BaseEvent] | None] = queue.Queue()
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._write_loop, name="subagents-event-log",
                                        daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def sink(self, run_id: str) -> Any:
        """A receiver for ``observe(on_event=...)`` that logs under ``run_id``."""

        def log(event: BaseEvent) -> None:
            with self._lock:
                seq = self._seq[run_id] = self._seq.get(run_id, 0) + 1
            self._queue.put((run_id, seq, event))

        return log

    def _write_loop(self) -> None:
        conn = self._connect()
        try:
            stop = False
            while not stop:
                batch = []
                item = self._queue.get()
                while item is not None:
                    batch.append(item)
                    if self._queue.empty():
                        break
                    item = self._queue.get()
                stop = item is None
                conn.executemany(
                    "INSERT OR REPLACE INTO subagent_events VALUES (?, ?, ?, ?, ?, ?)",
                    [(r, s, e.ts, getattr(e, "type", ""), json.dumps(e.path),
                      e.model_dump_json()) for r, s, e in batch])
                conn.commit()
        finally:
            conn.close()

    def close(self) -> None:
        """Flush pending events and stop the writer thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def runs(self) -> list[str]:
        """Run ids in the log, oldest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT run_id, MIN(ts) FROM subagent_events GROUP BY run_id "
                                "ORDER BY MIN(ts)").fetchall()
        return [r[0] for r in rows]

    def events(self, run_id: str) -> list[SubagentEvent]:
        """Every logged event of one run, in emission order."""
        with self._connect() as conn:
            rows = conn.execute("SELECT data FROM subagent_events WHERE run_id = ? ORDER BY seq",
                                (run_id,)).fetchall()
        return [EVENT_ADAPTER.validate_json(r[0]) for r in rows]
