"""A throwaway PostgreSQL server for tests, from Debian's ``postgresql`` package binaries.

``initdb`` + ``pg_ctl`` in a private temporary directory; the server listens on a unix socket
in that directory only (``listen_addresses=''``: no TCP at all), trusts local connections,
runs with ``fsync=off``, and is stopped (``pg_ctl stop``, which signals the postmaster whose
pid it wrote) when the session ends. ``initdb`` refuses to run as root, so under root the
server runs as the ``postgres`` user (else ``nobody``) via ``runuser``, in a directory that
user owns. Tests are skipped with the reason when the binaries (or a way to drop root) are
missing (failed instead when ``SUBAGENTS_REQUIRE_POSTGRES=1``). Each test gets a fresh
database (``pg_dsn``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PgServer", "find_bindir", "pg_dsn", "pg_server", "start_pg", "stop_pg"]


@dataclass
class PgServer:
    """A running server: ``dsn(db)`` connects as superuser ``postgres`` over its socket."""

    root: Path
    bindir: Path
    run_as: list[str]
    port: int = 5432

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.root} port={self.port} user=postgres dbname={dbname}"


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    for initdb in reversed(found):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _drop_root() -> tuple[list[str], str] | None:
    """(command prefix, user) to run the server as a non-root user, or None if impossible."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    runuser = shutil.which("runuser")
    if runuser is None:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return [runuser, "-u", user, "--"], user
    return None


def _run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        msg = f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
        raise RuntimeError(msg)


def _unavailable(reason: str) -> None:
    """Skip, or fail where Postgres is required (``SUBAGENTS_REQUIRE_POSTGRES=1``, CI)."""
    if os.environ.get("SUBAGENTS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"SUBAGENTS_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def start_pg() -> PgServer:
    """Create a cluster in a new temporary directory and start it (or ``pytest.skip``)."""
    bindir = find_bindir()
    if bindir is None:
        _unavailable("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                     "apt-get install postgresql")
    dropped = _drop_root()
    if dropped is None:
        _unavailable("running as root without runuser or a 'postgres'/'nobody' user: "
                     "initdb refuses to run as root")
    assert bindir is not None and dropped is not None
    prefix, user = dropped
    # /tmp, not pytest's tmp_path: its parents are private to root; short: socket path limit
    root = Path(tempfile.mkdtemp(prefix="subagents-pg-"))
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PgServer(root, bindir, prefix)
    _run([*prefix, str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
          "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
    opts = (f"-c listen_addresses='' -c unix_socket_directories={root} -p {server.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    try:
        _run([*prefix, str(bindir / "pg_ctl"), "-D", str(server.data), "-o", opts,
              "-l", str(root / "server.log"), "-w", "-t", "60", "start"])
    except RuntimeError:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start; log tail:\n{tail}") from None
    return server


def stop_pg(server: PgServer) -> None:
    """Stop the server (fast shutdown of its own postmaster) and delete its directory."""
    try:
        _run([*server.run_as, str(server.bindir / "pg_ctl"), "-D", str(server.data),
              "-m", "fast", "-w", "-t", "60", "stop"])
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the test session."""
    server = start_pg()
    try:
        yield server
    finally:
        stop_pg(server)


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> Iterator[str]:
    """A DSN of a fresh, empty database on the session's server (dropped afterwards)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.dsn(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
