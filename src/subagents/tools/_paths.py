"""Path confinement, tree walking and close-match suggestions for the filesystem tools.

Private helpers shared by ``fs.py`` and ``_grep.py``. Every path a model hands to a tool
goes through :func:`resolve` *before* anything is opened or listed; it resolves symlinks
with :func:`os.path.realpath` and rejects whatever lands outside the root.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from subagents.errors import SubagentsError

MAX_PATH_CHARS = 1024
"""Longer paths are rejected outright (no legitimate repo path is this long)."""

SKIP_DIRS = frozenset({"__pycache__", ".git", "node_modules", ".venv"})
"""Folders never descended into while walking (hidden folders are skipped as well)."""

MAX_WALK_ENTRIES = 20_000
"""Walks stop after visiting this many entries so huge trees cannot stall a tool."""

_QUOTES = "'\"`"

CLOSE_PATH = 0.7
"""Similarity (:mod:`difflib` ratio) a path needs to be offered as a close match."""

CLOSE_NAME = 0.75
"""Similarity a file name needs to be offered as a close match."""


class ToolPathError(SubagentsError):
    """A model-supplied path or search text was rejected; ``str(exc)`` is the model's message."""


def show(path: str, limit: int = 80) -> str:
    """Return ``path`` safe and short for an error message (escapes NUL, truncates)."""
    text = path.encode("unicode_escape", "backslashreplace").decode("ascii")
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(path)} chars)"
    return text


def real_root(root: str | Path) -> str:
    """Return the symlink-free absolute form of ``root`` (it must be a directory)."""
    resolved = os.path.realpath(os.fspath(root))
    if not os.path.isdir(resolved):
        raise NotADirectoryError(resolved)
    return resolved


def is_inside(root: str, real: str) -> bool:
    """Return whether the already-resolved ``real`` is ``root`` or lies below it."""
    try:
        return os.path.commonpath([root, real]) == root
    except ValueError:
        return False


def clean(path: str) -> str:
    """Strip whitespace and stray quotes a small model tends to wrap paths in."""
    text = path.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1].strip()
    return text or "."


def resolve(root: str, path: str) -> str:
    """Resolve a model-supplied ``path`` against ``root`` and confine it.

    Args:
        root: The real (symlink-free) root directory, from :func:`real_root`.
        path: Relative to ``root`` or absolute; ``""`` means the root itself.

    Returns:
        The real absolute path (it may not exist).

    Raises:
        ToolPathError: For NUL bytes, paths over ``MAX_PATH_CHARS`` characters, or paths
            whose real location (symlinks followed) is outside ``root``.

    """
    if not isinstance(path, str):
        raise ToolPathError(f"Error: path must be a string, got {type(path).__name__}")
    if "\x00" in path:
        raise ToolPathError(f"Error: path '{show(path)}' contains a NUL byte")
    if len(path) > MAX_PATH_CHARS:
        raise ToolPathError(
            f"Error: path '{show(path)}' is too long (max {MAX_PATH_CHARS} characters)"
        )
    text = clean(path)
    candidate = text if os.path.isabs(text) else os.path.join(root, text)
    try:
        real = os.path.realpath(candidate)
    except (OSError, ValueError) as exc:  # pragma: no cover - realpath is lenient
        raise ToolPathError(f"Error: path '{show(path)}' is invalid ({exc})") from exc
    if not is_inside(root, real):
        hint = ""
        if os.path.isabs(text):
            inner = os.path.realpath(os.path.join(root, text.lstrip("/\\")))
            if is_inside(root, inner) and _exists(inner):
                hint = f"; paths are relative to the root, try '{rel(root, inner)}'"
        raise ToolPathError(f"Error: path '{show(path)}' is outside the root{hint}")
    return real


def open_confined(root: str, path: str) -> tuple[BinaryIO, int]:
    """Open a file under ``root`` for binary reading after re-checking confinement.

    The path is resolved again, the final component is opened with ``O_NOFOLLOW`` (so
    a symlink swapped in after the check fails) and ``O_NONBLOCK`` (so a FIFO cannot
    hang the tool), and the opened descriptor must be a regular file.

    Returns:
        The open file and its size in bytes.

    Raises:
        ToolPathError: The path is outside ``root`` or not a regular file.
        OSError: The file cannot be opened.

    """
    real = os.path.realpath(path)
    if not is_inside(root, real):
        raise ToolPathError(f"Error: path '{show(path)}' is outside the root")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(real, flags)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ToolPathError(f"Error: '{rel(root, real)}' is not a regular file")
    return os.fdopen(fd, "rb"), info.st_size


def _exists(path: str) -> bool:
    try:
        return os.path.exists(path)
    except (OSError, ValueError):
        return False


def rel(root: str, real: str) -> str:
    """Return ``real`` relative to ``root`` with forward slashes (``.`` for the root)."""
    return Path(os.path.relpath(real, root)).as_posix()


def skip_name(name: str) -> bool:
    """Return whether a directory entry is hidden or in ``SKIP_DIRS``."""
    return name.startswith(".") or name in SKIP_DIRS


class Walk:
    """Entries below ``start``, sorted per folder, confined to ``root``; iterate once.

    Iterating yields ``(real_path, is_dir)``. Hidden entries and ``SKIP_DIRS`` are
    skipped, symlinks whose target is outside ``root`` are dropped, symlinked folders are
    listed but not descended into, and the walk stops after ``max_entries`` directory
    entries (skipped ones included); then :attr:`truncated` is True, so a tool can say
    its answer covers only part of the tree.

    Args:
        root: The real root directory.
        start: The real folder to walk.
        recursive: Descend into sub-folders.
        max_entries: Entries visited at most (``MAX_WALK_ENTRIES`` by default).

    """

    def __init__(self, root: str, start: str, *, recursive: bool = True,
                 max_entries: int = MAX_WALK_ENTRIES) -> None:
        self.root = root
        self.start = start
        self.recursive = recursive
        self.max_entries = max_entries
        self.truncated = False

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        stack = [self.start]
        seen = 0
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            subdirs: list[str] = []
            for entry in entries:
                seen += 1
                if seen > self.max_entries:
                    self.truncated = True
                    return
                found = self._keep(entry)
                if found is None:
                    continue
                yield entry.path, found
                if self.recursive and found and not entry.is_symlink():
                    subdirs.append(entry.path)
            stack.extend(reversed(subdirs))

    def _keep(self, entry: os.DirEntry[str]) -> bool | None:
        """``is_dir`` for an entry to yield, None to skip it."""
        if skip_name(entry.name):
            return None
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()
        except OSError:
            return None
        if is_link and not is_inside(self.root, os.path.realpath(entry.path)):
            return None
        return is_dir

    def note(self) -> str:
        """``""``, or a clause saying the walk stopped at its entry cap."""
        if not self.truncated:
            return ""
        return (f"stopped at the {self.max_entries}-entry limit; "
                "the rest of the tree was not searched")


def walk(root: str, start: str, *, recursive: bool = True,
         max_entries: int = MAX_WALK_ENTRIES) -> Iterator[tuple[str, bool]]:
    """Yield ``(real_path, is_dir)`` below ``start``; see :class:`Walk` (no truncation flag)."""
    return iter(Walk(root, start, recursive=recursive, max_entries=max_entries))


def not_found(root: str, path: str, real: str, max_entries: int = MAX_WALK_ENTRIES) -> str:
    """Build ``Error: no such file '...'; close matches: ...`` for a missing path.

    Up to 5 suggestions: files with the same name anywhere under root first, then
    :func:`difflib.get_close_matches` over relative paths and file names (only close ones:
    a small model takes any listed path for the answer, so loose guesses are left out).
    Only the first ``max_entries`` entries of the tree are looked at; when the tree is
    larger, the message says so.
    """
    wanted = rel(root, real)
    tree = Walk(root, root, max_entries=max_entries)
    files = [rel(root, p) for p, is_dir in tree if not is_dir]
    base = wanted.rsplit("/", 1)[-1].lower()
    picks = [f for f in files if f.rsplit("/", 1)[-1].lower() == base]
    picks += difflib.get_close_matches(wanted, files, n=5, cutoff=CLOSE_PATH)
    by_name: dict[str, list[str]] = {}
    for f in files:
        by_name.setdefault(f.rsplit("/", 1)[-1].lower(), []).append(f)
    for name in difflib.get_close_matches(base, list(by_name), n=5, cutoff=CLOSE_NAME):
        picks += by_name[name]
    unique = list(dict.fromkeys(picks))[:5]
    message = f"Error: no such file '{show(path)}'"
    cut = f" ({tree.note()})" if tree.truncated else ""
    if unique:
        return f"{message}; close matches: {', '.join(unique)}{cut}"
    return f"{message}; find the right path with grep or list_files{cut}"


def files_under(root: str, start: str, max_files: int = MAX_WALK_ENTRIES
                ) -> tuple[list[str], str]:
    """The files to search under ``start`` and ``""`` or the walk's truncation note."""
    if os.path.isfile(start):
        return [start], ""
    tree = Walk(root, start, max_entries=max_files)
    return [path for path, is_dir in tree if not is_dir], tree.note()


def search_start(root: str, path: str, name: str, text: object, wanted: str
                 ) -> str | ToolPathError | None:
    """Where a search of ``text`` (the argument ``name``) under ``path`` starts.

    Returns the real start path, ``None`` when ``path`` does not exist, or the error to
    answer with: ``text`` empty, over 1000 characters or holding NUL (it asks for
    ``wanted``), or ``path`` outside the root.
    """
    if not isinstance(text, str) or not text.strip():
        return ToolPathError(f"Error: {name} is empty; give {wanted}")
    if "\x00" in text or len(text) > 1000:
        return ToolPathError(f"Error: {name} must be under 1000 characters without NUL bytes")
    try:
        start = resolve(root, path)
    except ToolPathError as exc:
        return exc
    return start if os.path.exists(start) else None
