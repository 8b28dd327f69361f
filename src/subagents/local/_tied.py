"""Child processes that never outlive the Python process that started them.

``llama-server`` holds about 2 GB; a CLI killed with SIGTERM or SIGKILL (or whose parent
dies) skips :mod:`atexit` and used to leave it running. On Linux each child is started with
the parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``): the kernel sends it SIGTERM
when its parent dies, whatever killed the parent, SIGKILL included.

The signal fires when the *thread* that forked the child ends, not only the process, so
every child is forked by one long-lived spawner thread of this module (a daemon thread that
lives as long as the process), never by a short-lived worker thread (``asyncio.to_thread``,
LangGraph's pool). Elsewhere than Linux children are started plainly (the :mod:`atexit`
stop still applies).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

__all__ = ["TIED", "popen_tied"]

_PR_SET_PDEATHSIG = 1

TIED = sys.platform.startswith("linux")
"""Whether children get the parent-death signal on this platform."""

_prctl: Any = ctypes.CDLL(None, use_errno=True).prctl if TIED else None
"""Resolved before any fork: the child only calls it."""

_Request = tuple["concurrent.futures.Future[subprocess.Popen[bytes]]", list[str], dict[str, Any]]
_requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _die_with(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return setup


def _serve() -> None:
    while True:
        future, args, kwargs = _requests.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            proc = cast("subprocess.Popen[bytes]", subprocess.Popen(
                args, preexec_fn=_die_with(os.getpid()), **kwargs))
        except BaseException as exc:  # handed to the caller, who raises it
            future.set_exception(exc)
        else:
            future.set_result(proc)


def popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(args, **kwargs)`` whose process dies with this one (see module doc).

    Args:
        args: the command line.
        **kwargs: ``Popen`` options (not ``preexec_fn``).

    Returns:
        The started process.

    Raises:
        OSError: the program could not be started (as ``Popen`` raises it).
    """
    if not TIED:
        return subprocess.Popen(args, **kwargs)
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_serve, name="subagents-spawner", daemon=True)
            _spawner.start()
    future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    _requests.put((future, args, kwargs))
    return future.result()
