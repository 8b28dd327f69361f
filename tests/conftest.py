"""Shared fixtures. Tests never reach a network model: see ``_no_network_models``."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver

from _pg import PgServer, pg_dsn, pg_server  # noqa: F401  (the Postgres saver param's server)
from _savers import DurableSaver
from subagents.checkpoints import async_sqlite_saver, memory_saver, sqlite_saver


@pytest.fixture(autouse=True)
def _no_network_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point every OpenAI-compatible client at a closed loopback port unless marked real."""
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUBAGENTS_MODEL"):
        monkeypatch.delenv(key, raising=False)
    if not os.environ.get("SUBAGENTS_ALLOW_NETWORK"):
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    yield


@pytest.fixture(autouse=True)
def _checkpoints_hold_registered_types() -> Iterator[None]:
    """Fail a test whose checkpoints hold a type LangGraph's serializer does not allow.

    Under ``LANGGRAPH_STRICT_MSGPACK=true`` (``make test``) such a value comes back as raw
    data (a ``msgpack_blocked`` event). Without it LangGraph lets every type through with a
    warning for types no graph registered, which is not checked here.
    """
    from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener

    seen: list[str] = []
    unregister = register_serde_event_listener(
        lambda event: seen.append(f"{event['kind']}: {event['module']}.{event['name']}")
        if event["kind"] != "msgpack_unregistered_allowed" else None)
    yield
    unregister()
    assert not seen, f"checkpoint values blocked by the serializer: {sorted(set(seen))}"


# ---------------------------------------------------------------------------------- savers
# Like LangGraph's own conftest (``sync_checkpointer`` / ``async_checkpointer``): a test that
# takes ``saver`` (sync runs) or ``async_saver`` (async runs) runs once per checkpoint saver.
# The default is memory and SQLite (the package's own factories); a test whose outcome rests
# on what a saver writes and reads back across a resume or a restart adds Postgres with
# ``@pytest.mark.savers(*ALL_SAVERS)``. The Postgres param uses ``_pg``'s throwaway server and
# a fresh database per test; it is skipped with the reason when no server can be started.
# ``durable_saver`` (SQLite and Postgres: the savers that outlive a process) opens a new saver
# on the same store at each call, for crash tests whose runs are forked processes.

ALL_SAVERS = ("memory", "sqlite", "postgres")
DEFAULT_SAVERS = ("memory", "sqlite")
_SAVER_FIXTURES = ("saver", "async_saver")
DURABLE_SAVERS = ("sqlite", "postgres")
_PG_EXTRA = "pip install langgraph-checkpoint-postgres 'psycopg[binary]'"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "savers(*kinds): the checkpoint savers (memory, sqlite, postgres) a test "
        "taking the saver/async_saver fixture runs on; default memory and sqlite "
        "(durable_saver: sqlite and postgres)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``saver`` / ``async_saver`` by the test's ``savers`` marker (or the default)."""
    marker = metafunc.definition.get_closest_marker("savers")
    kinds = tuple(marker.args) if marker else DEFAULT_SAVERS
    unknown = set(kinds) - set(ALL_SAVERS)
    if unknown:
        msg = f"unknown saver kinds {sorted(unknown)}; known: {ALL_SAVERS}"
        raise pytest.UsageError(msg)
    for name in _SAVER_FIXTURES:
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, kinds, indirect=True)
    if "durable_saver" in metafunc.fixturenames:
        durable = [k for k in (marker.args if marker else DURABLE_SAVERS) if k != "memory"]
        metafunc.parametrize("durable_saver", durable, indirect=True)


@pytest.fixture
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointSaver[Any]]:
    """A sync checkpoint saver: ``InMemorySaver``, ``SqliteSaver`` or ``PostgresSaver``."""
    kind = request.param
    if kind == "memory":
        yield memory_saver()
    elif kind == "sqlite":
        with sqlite_saver(tmp_path / "checkpoints.sqlite") as saver:
            yield saver
    else:
        postgres = pytest.importorskip("langgraph.checkpoint.postgres", reason=_PG_EXTRA)
        dsn = request.getfixturevalue("pg_dsn")
        with postgres.PostgresSaver.from_conn_string(dsn) as pg:
            pg.setup()
            yield pg


@pytest.fixture
async def async_saver(request: pytest.FixtureRequest,
                      tmp_path: Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """An async saver: ``InMemorySaver``, ``AsyncSqliteSaver`` or ``AsyncPostgresSaver``."""
    kind = request.param
    if kind == "memory":
        yield memory_saver()
    elif kind == "sqlite":
        async with async_sqlite_saver(tmp_path / "checkpoints.sqlite") as saver:
            yield saver
    else:
        postgres = pytest.importorskip("subagents.checkpoints.postgres", reason=_PG_EXTRA)
        dsn = request.getfixturevalue("pg_dsn")
        async with postgres.async_postgres_saver(dsn) as pg:
            yield pg


@pytest.fixture
def durable_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DurableSaver]:
    """A ``DurableSaver`` on SQLite files or on Postgres databases (one per store name)."""
    if request.param == "sqlite":
        yield DurableSaver("sqlite", tmp_path)
        return
    pytest.importorskip("subagents.checkpoints.postgres", reason=_PG_EXTRA)
    psycopg = pytest.importorskip("psycopg", reason=_PG_EXTRA)
    server: PgServer = request.getfixturevalue("pg_server")
    prefix = f"d_{uuid.uuid4().hex[:10]}_"

    def dsn(name: str) -> str:
        db = prefix + name.replace("-", "_").lower()
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() \
                    is None:
                conn.execute(f'CREATE DATABASE "{db}"')
        return server.dsn(db)

    try:
        yield DurableSaver("postgres", tmp_path, dsn)
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            names = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                 (prefix + "%",)).fetchall()
            for (db,) in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
