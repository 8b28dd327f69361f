"""Start and stop a ``langgraph dev`` server on loopback for the server tests.

Facts this helper works around (checked with langgraph-cli 0.4 / langgraph-api 0.16):

- Graph paths in ``langgraph.json`` are resolved against the server's working directory,
  not the config's folder, and the in-memory runtime writes ``.langgraph_api/`` into that
  working directory. To keep the repository clean the server runs in a temporary directory
  with a copy of the repository's ``langgraph.json`` whose relative paths are made absolute
  (same graphs, same variables).
- A busy port is no error: the server logs a warning and takes another one. The port is
  picked free beforehand and the server is checked to answer on exactly that port.
- It is stopped by its own pid only (terminate, then kill).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage, ToolCall
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from subagents.testing import ai

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "langgraph.json"
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
}


def free_port() -> int:
    """A loopback port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _absolute(value: str, base: Path) -> str:
    """``./src/x.py:graph`` -> ``/abs/src/x.py:graph`` (module specs are left alone)."""
    path, sep, var = value.rpartition(":") if ".py:" in value else (value, "", "")
    if path.startswith((".", "/")) or path.endswith(".py"):
        path = str((base / path).resolve())
    return f"{path}{sep}{var}"


def relocated_config(config: Path, workdir: Path) -> Path:
    """Write a copy of ``config`` into ``workdir`` with every relative path made absolute."""
    data: dict[str, Any] = json.loads(config.read_text())
    base = config.parent
    data["dependencies"] = [str((base / d).resolve()) if d.startswith(".") else d
                            for d in data.get("dependencies", [])]
    data["graphs"] = {name: _absolute(spec, base) for name, spec in data["graphs"].items()}
    out = workdir / "langgraph.json"
    out.write_text(json.dumps(data, indent=2))
    return out


@dataclass
class DevServer:
    """A running ``langgraph dev`` process.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        log_path: the server's stdout and stderr.
        workdir: its working directory (holds ``.langgraph_api/``).
    """

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def log(self) -> str:
        """The server log so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process (by its pid), then kill it if it does not exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def listens_on(log: str, port: int) -> bool:
    """Whether the server log announces its API on ``port`` (not a fallback port)."""
    return re.search(rf"API: http://127\.0\.0\.1:{port}\b", _ANSI.sub("", log)) is not None


def _langgraph_cli() -> str:
    exe = Path(sys.executable).with_name("langgraph")
    return str(exe) if exe.exists() else "langgraph"


def start_dev_server(workdir: Path, env: dict[str, str], *, startup_timeout: float = 60.0,
                     attempts: int = 3, command: list[str] | None = None,
                     unset: tuple[str, ...] = (), config: Path | None = None) -> DevServer:
    """Start ``langgraph dev`` in ``workdir`` and wait for ``GET /ok`` on the chosen port.

    ``env`` is added to a copy of ``os.environ`` together with the offline variables. If
    another process grabbed the port in between (the server then listens elsewhere), the
    server is stopped and started again on a new port, up to ``attempts`` times.
    ``command``: the command line to run as given (``--port N`` is appended), in place of
    the repository's relocated config with ``--no-reload``. ``unset``: variables removed
    from the copy of ``os.environ`` (a user's shell without them). ``config``: the
    ``langgraph.json`` to serve (default: the repository's).
    """
    inherited = {k: v for k, v in os.environ.items() if k not in unset}
    full_env = {**inherited, **OFFLINE_ENV, **env}
    last_error = "not started"
    for attempt in range(attempts):
        port = free_port()
        log_path = workdir / f"server-{attempt}.log"
        log = log_path.open("wb")
        if command is None:
            served = relocated_config(config or CONFIG, workdir)
            cmd = [_langgraph_cli(), "dev", "--no-browser", "--no-reload", "--host",
                   "127.0.0.1", "--port", str(port), "--config", str(served)]
        else:
            cmd = [*command, "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=workdir, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = DevServer(f"http://127.0.0.1:{port}", port, proc, log_path, workdir, log)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"server exited with {proc.returncode}"
                break
            try:
                ok = httpx.get(f"{server.url}/ok", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and listens_on(server.log(), port):
                return server  # answering, and on the port we chose (not a fallback)
            if ok:
                last_error = f"port {port} answered but the server did not report it"
                break
            with suppress(subprocess.TimeoutExpired):  # until the next check, or the exit
                proc.wait(timeout=0.2)
        else:
            last_error = f"no answer on port {port} within {startup_timeout} s"
        server.stop()
        tail = server.log()[-3000:]
        last_error = f"{last_error}; log tail:\n{tail}"
    msg = f"langgraph dev did not start: {last_error}"
    raise RuntimeError(msg)


@asynccontextmanager
async def sdk_client(server: DevServer, timeout: float = 30.0) -> AsyncIterator[LangGraphClient]:
    """A ``langgraph-sdk`` client of ``server`` (``timeout`` in seconds), closed at the end."""
    lg = get_client(url=server.url, timeout=timeout)
    try:
        yield lg
    finally:
        await lg.http.client.aclose()


DEMO_MODEL = "python:subagents.testing.demo:research_model"
"""The scripted model the repository's exported graphs run on in server tests."""


@contextmanager
def demo_server(workdir: Path, graphs: dict[str, str] | None = None,
                env: dict[str, str] | None = None) -> Iterator[DevServer]:
    """A dev server of the repository's graphs on the scripted demo model, plus ``graphs``.

    ``graphs``: more graphs to serve, ``{name: "/abs/file.py:attr"}``; ``env``: more variables.
    The server is stopped on exit.
    """
    config = None
    if graphs:
        data = json.loads(CONFIG.read_text())
        data["dependencies"] = [str((REPO / d).resolve()) if d.startswith(".") else d
                                for d in data.get("dependencies", [])]
        data["graphs"] = {name: _absolute(spec, REPO) for name, spec in data["graphs"].items()}
        data["graphs"].update(graphs)
        config = workdir / "source.json"
        config.write_text(json.dumps(data))
    server = start_dev_server(workdir, {"SUBAGENTS_MODEL": DEMO_MODEL,
                                        "SUBAGENTS_ROOT": str(workdir), **(env or {})},
                              config=config)
    try:
        yield server
    finally:
        server.stop()


def task_then_echo(call_id: Callable[[], str]) -> Callable[[list[Any], str | None], Any]:
    """A scripted boss policy: ``"<agent>: <objective>"`` -> one ``task`` call with the id
    ``call_id()`` gives (read at each call); then it echoes the result (``"boss got: ..."``)."""
    def policy(messages: list[Any], agent: str | None) -> AIMessage:
        last = messages[-1]
        if isinstance(last, HumanMessage):
            target, _, objective = str(last.content).partition(":")
            tc = ToolCall(name="task", args={"agent": target, "objective": objective.strip()},
                          id=call_id(), type="tool_call")
            return AIMessage(content="", tool_calls=[tc])
        return ai(f"boss got: {last.content}")

    return policy
