"""Read-only filesystem tools (``list_files``, ``read_file``, ``grep``) confined to a root.

Every tool returns a short string meant for a small local model and never raises: bad
input comes back as a line starting with ``Error:``. Paths are relative to the root
(absolute paths inside it are accepted); anything whose real location, with symlinks
resolved by :func:`os.path.realpath`, lies outside the root is refused before any file
is opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from subagents.errors import SpecError
from subagents.tools import _grep
from subagents.tools._listing import collect, split_pattern
from subagents.tools._make import make_tool
from subagents.tools._paths import (
    MAX_WALK_ENTRIES,
    ToolPathError,
    not_found,
    open_confined,
    real_root,
    rel,
    resolve,
    show,
)
from subagents.tools._read import read_range
from subagents.tools.find import find_tool

__all__ = [
    "BINARY_PROBE",
    "BUILTIN_TOOLS",
    "MAX_ENTRIES",
    "READ_CONTEXT",
    "builtin_tool",
    "filesystem_tools",
    "grep",
    "grep_tool",
    "list_files",
    "list_files_tool",
    "read_file",
    "read_file_tool",
]

MAX_ENTRIES = 200
READ_CONTEXT = 25
"""Lines the ``read_file`` tool shows of the file defining the identifier a missing path is
named after (small models read ``src/RetryPolicy.java`` when they mean ``class RetryPolicy``)."""
BINARY_PROBE = 8_192


def list_files(root: str | Path, path: str = ".", pattern: str = "*",
               max_files: int = MAX_WALK_ENTRIES) -> str:
    """List files and folders under ``root``/``path`` whose path matches ``pattern``.

    Args:
        root: The directory the tool is confined to.
        path: Folder to list, relative to ``root`` (absolute inside ``root`` is fine).
        pattern: Glob relative to ``path``, case-insensitive: ``*`` (default) lists one
            level, ``**/*.py`` recurses, ``src/*.py`` matches one level down. A
            one-level pattern that matches nothing is retried as ``**/<pattern>``.
            Matching is linear in the number of ``**`` segments.
        max_files: Directory entries walked at most; past it the listing ends with a
            note that the rest of the tree was not searched.

    Returns:
        Paths relative to ``root``, sorted, one per line, folders ending with ``/``;
        hidden entries, ``__pycache__``, ``.git``, ``node_modules`` and ``.venv`` are
        skipped. At most ``MAX_ENTRIES`` (200) lines plus a note with how many were
        left out. Bad paths give an ``Error: ...`` string.

    """
    base = real_root(root)
    try:
        start = resolve(base, path)
    except ToolPathError as exc:
        return str(exc)
    if not os.path.exists(start):
        return not_found(base, path, start, max_files)
    if not os.path.isdir(start):
        return f"{rel(base, start)} (file, {os.path.getsize(start)} bytes)"
    pats = split_pattern(pattern)
    if isinstance(pats, str):
        return pats
    note = ""
    found, cut = collect(base, start, pats, max_files)
    if not found and len(pats) == 1 and pats != ["*"]:
        found, cut = collect(base, start, ["**", *pats], max_files)
        if found:
            note = f"Nothing matches '{pats[0]}' directly here; matches in subfolders:\n"
    where = rel(base, start)
    if not found:
        if cut:
            return f"No files matching '{show(pattern)}' in '{where}' ({cut})."
        if pats == ["*"]:
            return f"'{where}' is an empty folder (hidden files are not listed)."
        return f"No files matching '{show(pattern)}' in '{where}'."
    found.sort()
    lines = found[:MAX_ENTRIES]
    if len(found) > MAX_ENTRIES:
        lines.append(
            f"... {len(found) - MAX_ENTRIES} more entries not shown; narrow with path= or pattern="
        )
    if cut:
        lines.append(f"(listing incomplete: {cut}; narrow with path=)")
    return note + "\n".join(lines)


# ---------------------------------------------------------------------------- read_file


def read_file(root: str | Path, path: str, start_line: int = 1, end_line: int | None = None,
              max_files: int = MAX_WALK_ENTRIES, context: int = 0) -> str:
    """Return lines ``start_line``..``end_line`` of a text file under ``root``, numbered.

    Args:
        root: The directory the tool is confined to.
        path: File relative to ``root`` (absolute inside ``root`` is fine).
        start_line: First line, 1-based (values below 1 mean 1).
        end_line: Last line, inclusive; ``None`` reads to the cap. Swapped with
            ``start_line`` if smaller.
        max_files: Directory entries walked at most when a missing path is looked up.
        context: For a missing file named like an identifier, how many lines of the
            file defining it to show from the definition on (0: none, only where it is).

    Returns:
        A header ``path, lines A-B of N:`` then ``N: text`` lines. At most ``MAX_LINES``
        (200) lines / ``MAX_CHARS`` (8000) characters, each line cut at 500 characters,
        with a note saying which ``start_line`` reads on. Files with a NUL byte in the
        first 8 KiB give ``path: binary file, N bytes``. Only the requested range is
        kept in memory, and at most the first 32 MB / 1,000,000 lines of a file are read
        (a ``start_line`` beyond that gets an ``Error:`` saying so). Folders, missing
        files and bad paths give ``Error: ...``; for a missing file named like an
        identifier (``src/LastValue.java``) the error names the file that defines it
        (``class LastValue`` in ``channels/last_value.py``), else close matches.

    """
    base = real_root(root)
    try:
        real = resolve(base, path)
    except ToolPathError as exc:
        return str(exc)
    if not os.path.exists(real):
        found = _grep.missing_file_definitions(base, rel(base, real), max_files)
        if found:
            hint = _grep.hint_text(rel(base, real), found)
            return f"Error: no such file '{show(path)}'; {hint}" + _around(base, found, context)
        return not_found(base, path, real, max_files)
    name = rel(base, real)
    if os.path.isdir(real):
        return f"Error: '{name}' is a folder, not a file; use list_files(path='{name}')"
    first = max(1, int(start_line or 1))
    last = None if end_line is None else max(1, int(end_line))
    if last is not None and last < first:
        first, last = last, first
    try:
        fh, size = open_confined(base, real)
    except ToolPathError as exc:
        return str(exc)
    with fh:
        if b"\x00" in fh.read(BINARY_PROBE):
            return f"{name}: binary file, {size} bytes (not shown)"
        fh.seek(0)
        return read_range(fh, name, size, first, last)


def _around(base: str, found: list[tuple[str, int, str]], context: int) -> str:
    """``context`` lines of the first definition's file from its line on, or ``""``."""
    if context < 1:
        return ""
    name, line, _ = found[0]
    return "\n" + read_file(base, name, line, line + context - 1)


# --------------------------------------------------------------------------------- grep


def grep(root: str | Path, pattern: str, path: str = ".",
         max_files: int = MAX_WALK_ENTRIES) -> str:
    """Search text files under ``root``/``path`` for ``pattern``, case-insensitively.

    Strategy, first one with results wins (its note is the first output line):
    1. ``pattern`` as literal text;
    2. ``pattern`` as a regex, only if it has regex characters and compiles with RE2
       (``google-re2``: matching is linear in the line length for every pattern, so no
       pattern can stall the search; a valid Python regex RE2 lacks features for, such
       as lookaround or a backreference, is searched as text with a first line saying
       so);
    3. for plain words (``max redirects``): lines holding all of its words of 3+
       characters, in any order and also inside names (``DEFAULT_MAX_REDIRECTS``; a plural
       ``snapshots`` matches ``snapshot``), the lines that define something first; English
       function words (``which``, ``the``, ``used``: ``_stop_words.STOP_WORDS``) are dropped;
    4. the longest identifier in ``pattern`` (e.g. ``load_spec`` from ``def load_spec(``);
       for plain words only one written as code (``max_size``, ``maxSize``);
    5. any of the pattern's words of 3+ characters, the lines holding the most of them
       first.

    When an identifier is searched, the lines defining it come first, then the lines that
    raise it (``raise X``, not in a comment), and the header names both
    (``'X' is defined in a.py:3; raised in b.py:9; the other rows are uses (...)``).
    A row inside a ``class`` or ``def`` ends with ``  (in def f of class C)``, and a row
    starting an assignment or signature whose brackets stay open shows its next lines
    joined (at most 4: ``LIMIT = int(getenv("LIMIT", "500"))``).

    Args:
        root: The directory the tool is confined to.
        pattern: Text to find (under 1000 characters).
        path: Folder or file to search, relative to ``root``.
        max_files: Directory entries walked at most; past it the answer says the rest of
            the tree was not searched.

    Returns:
        ``N matches in M files:`` then ``relative/path.py:LINE: text`` rows, at most
        30 rows / 8000 characters, with a count of the rest. Binary files, files over
        2 MB, hidden entries, ``__pycache__``, ``.git``, ``node_modules`` and ``.venv``
        are skipped. Bad paths give ``Error: ...``.

    """
    return _grep.grep(real_root(root), pattern, path, max_files)


# -------------------------------------------------------------------------------- tools


class _ListFilesArgs(BaseModel):
    path: str = Field(".", description="Folder relative to the project root.")
    pattern: str = Field("*", description="Glob, e.g. '*.py' or '**/*.py' for subfolders.")


class _ReadFileArgs(BaseModel):
    path: str = Field(description="File relative to the project root, as grep printed it.")
    start_line: int = Field(1, description="First line to show (1-based).")
    end_line: int | None = Field(None, description="Last line to show (inclusive).")


class _GrepArgs(BaseModel):
    pattern: str = Field(description="Text to search for (case-insensitive).")
    path: str = Field(".", description="Folder or file to search in.")


def list_files_tool(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> BaseTool:
    """Build the ``list_files(path='.', pattern='*')`` tool confined to ``root``.

    ``max_files`` caps the directory entries one call walks (see :func:`list_files`).

    Raises:
        SpecError: ``root`` is not an existing directory.

    """
    return make_tool(
        root,
        "list_files",
        "List files and folders (folders end with '/'). Paths are relative to the project "
        "root. Use pattern='**/*.py' to search all subfolders.",
        _ListFilesArgs,
        lambda base, path=".", pattern="*": list_files(base, path, pattern, max_files),
    )


def read_file_tool(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> BaseTool:
    """Build the ``read_file(path, start_line=1, end_line=None)`` tool confined to ``root``.

    ``max_files`` caps the directory entries a missing-path lookup walks. A missing path
    named like an identifier (``src/RetryPolicy.java``) answers where it is defined and
    shows ``READ_CONTEXT`` (25) lines of that file from the definition on.

    Raises:
        SpecError: ``root`` is not an existing directory.

    """
    return make_tool(
        root,
        "read_file",
        "Read a text file with line numbers (at most 200 lines per call; use start_line "
        "and end_line for other parts).",
        _ReadFileArgs,
        lambda base, path, start_line=1, end_line=None: read_file(
            base, path, start_line, end_line, max_files, READ_CONTEXT
        ),
    )


def grep_tool(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> BaseTool:
    """Build the ``grep(pattern, path='.')`` tool confined to ``root``.

    ``max_files`` caps the directory entries one call walks (see :func:`grep`).

    Raises:
        SpecError: ``root`` is not an existing directory.

    """
    return make_tool(
        root,
        "grep",
        "Search file contents for text (case-insensitive). Returns 'path:LINE: text' lines.",
        _GrepArgs,
        lambda base, pattern, path=".": grep(base, pattern, path, max_files),
    )


BUILTIN_TOOLS: dict[str, Callable[[Path, int], BaseTool]] = {
    "list_files": list_files_tool,
    "read_file": read_file_tool,
    "grep": grep_tool,
    "find": find_tool,
}
"""Built-in tool factories by name (as written in a team YAML file); each takes the root and
``max_files``."""


def builtin_tool(name: str, root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> BaseTool:
    """Build the built-in tool called ``name`` confined to ``root``.

    Args:
        name: One of ``BUILTIN_TOOLS`` (``list_files``, ``read_file``, ``grep``, ``find``).
        root: Directory the tool may read.
        max_files: Directory entries one call walks at most (see :func:`filesystem_tools`).

    Raises:
        SpecError: ``name`` is unknown (the message lists the valid names) or ``root``
            is not an existing directory.

    """
    factory = BUILTIN_TOOLS.get(name)
    if factory is None:
        valid = ", ".join(sorted(BUILTIN_TOOLS))
        raise SpecError(f"unknown built-in tool {name!r}; valid names: {valid}")
    return factory(Path(root), max_files)


def filesystem_tools(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> list[BaseTool]:
    """Return the read-only ``list_files``, ``read_file`` and ``grep`` tools for ``root``.

    Each is a :class:`~langchain_core.tools.StructuredTool` with a sync function and an
    async coroutine (run via :func:`asyncio.to_thread`); results are short strings and
    errors come back as ``Error: ...`` strings instead of exceptions.

    Args:
        root: Directory the tools may read; resolved with :func:`os.path.realpath` once.
        max_files: Directory entries (files and folders, skipped ones included) one call
            walks at most (default 20,000); a ``grep``/``list_files`` answer or a
            missing-path message built from a cut walk says the rest was not searched.

    Raises:
        SpecError: ``root`` is not an existing directory; ``ValueError``: ``max_files``
            is below 1.

    """
    if max_files < 1:
        raise ValueError(f"max_files must be at least 1, got {max_files}")
    return [
        list_files_tool(root, max_files),
        read_file_tool(root, max_files),
        grep_tool(root, max_files),
    ]
