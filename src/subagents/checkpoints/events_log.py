"""A persisted event log beside the checkpoints (SQLite), so a run's tree can be redrawn.

Writes go through one background thread (the event loop never blocks on disk). The thread
never dies on an event: one that cannot be written (a SQLite error) is counted in ``lost``
and logged, and every other event is still written; strings that are not valid UTF-8 (a
lone surrogate) are stored escaped (a backslash, then ``ud800``).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

from subagents.events import EVENT_ADAPTER, BaseEvent, SubagentEvent

__all__ = ["EventLog"]

_logger = logging.getLogger(__name__)

_INSERT = "INSERT OR REPLACE INTO subagent_events VALUES (?, ?, ?, ?, ?, ?)"
_MAX_ERRORS = 10
"""Error messages kept (``EventLog.errors``); ``lost`` counts every lost event."""

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
        self.lost = 0
        """Events the writer could not write (read after ``close()``)."""
        self.errors: list[str] = []
        """Why (the first few messages), e.g. ``run 'r1' event 3: IntegrityError: ...``."""
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
        conn: sqlite3.Connection | None = None
        stop = False
        while not stop:
            batch: list[tuple[str, int, BaseEvent]] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                if self._queue.empty():
                    break
                item = self._queue.get()
            stop = item is None
            try:
                conn = conn or self._connect()
                self._write(conn, batch)
            except Exception as exc:  # the database itself: these events are lost, go on
                self._lost(len(batch), "writing events", exc)
                _close(conn)
                conn = None
        _close(conn)

    def _write(self, conn: sqlite3.Connection, batch: list[tuple[str, int, BaseEvent]]) -> None:
        rows = []
        for run_id, seq, event in batch:
            try:
                rows.append(_row(run_id, seq, event))
            except Exception as exc:  # an event that does not serialise
                self._lost(1, f"run {run_id!r} event {seq}", exc)
        try:
            conn.executemany(_INSERT, rows)
            conn.commit()
            return
        except Exception:
            conn.rollback()
        for row in rows:  # one by one: write every row that can be written
            try:
                conn.execute(_INSERT, row)
                conn.commit()
            except Exception as exc:
                conn.rollback()
                self._lost(1, f"run {row[0]!r} event {row[1]}", exc)

    def _lost(self, count: int, what: str, exc: BaseException) -> None:
        message = f"{what}: {type(exc).__name__}: {exc}"
        _logger.error("event log %s lost %d event(s): %s", self.path, count, message)
        with self._lock:
            self.lost += count
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(message)

    def close(self) -> None:
        """Flush pending events and stop the writer thread.

        Afterwards ``lost`` is the number of events that could not be written (0: all
        were) and ``errors`` says why; a writer still busy after 30 s counts as an error.
        """
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            with self._lock:
                self.errors.append("the writer did not finish within 30 s (events pending)")
                self.lost += max(1, self._queue.qsize())

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


def _row(run_id: str, seq: int, event: BaseEvent) -> tuple[Any, ...]:
    try:
        data = event.model_dump_json(fallback=repr)
    except ValueError:  # pydantic's PydanticSerializationError: e.g. a lone surrogate
        data = json.dumps(_escape(event.model_dump(mode="json", fallback=repr)),
                          ensure_ascii=False)
    return (_escape(run_id), seq, event.ts, getattr(event, "type", ""),
            json.dumps(event.path), data)


def _escape(value: Any) -> Any:
    """Strings made valid UTF-8: a lone surrogate becomes text (backslash, ``udXXX``)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


def _close(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            _logger.exception("event log: closing the connection failed")
