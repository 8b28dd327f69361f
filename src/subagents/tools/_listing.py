"""Glob matching and collection for the ``list_files`` tool."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from subagents.tools._paths import MAX_WALK_ENTRIES, Walk, rel

MAX_PATTERN = 200


def glob_match(parts: list[str], pats: list[str]) -> bool:
    """Whether path segments ``parts`` match glob segments ``pats`` (``**``: any depth).

    Bottom-up dynamic programming over (segment, pattern segment) positions: at most
    ``len(parts) * len(pats)`` segment matches whatever the number of ``**`` segments (a
    naive recursion is exponential in them on deep trees). Case-insensitive.
    """
    folded = [p.casefold() for p in parts]
    count = len(folded)
    later = [i == count for i in range(count + 1)]  # parts[i:] vs no pattern left
    for pat in reversed([p.casefold() for p in pats]):
        here = [False] * (count + 1)
        for i in range(count, -1, -1):
            if pat == "**":
                here[i] = later[i] or (i < count and here[i + 1])
            else:
                here[i] = (i < count and later[i + 1]
                           and fnmatch.fnmatchcase(folded[i], pat))
        later = here
    return later[0]


def split_pattern(pattern: str) -> list[str] | str:
    """Return the pattern's segments, or an error message."""
    text = (pattern or "*").strip().replace("\\", "/")
    if "\x00" in text or len(text) > MAX_PATTERN:
        return f"Error: pattern must be under {MAX_PATTERN} characters without NUL bytes"
    pats: list[str] = []
    for seg in text.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            return "Error: pattern must not contain '..'; use path= to choose a folder"
        if not (seg == "**" and pats and pats[-1] == "**"):
            pats.append(seg)
    return pats or ["*"]


def collect(base: str, start: str, pats: list[str],
            max_entries: int = MAX_WALK_ENTRIES) -> tuple[list[str], str]:
    """Paths under ``start`` matching ``pats`` (relative to ``base``, folders with ``/``).

    Returns:
        The matches in walk order, and ``""`` or a note that the walk stopped at
        ``max_entries`` entries.

    """
    recursive = len(pats) > 1 or pats[0] == "**"
    found: list[str] = []
    tree = Walk(base, start, recursive=recursive, max_entries=max_entries)
    for real, is_dir in tree:
        parts = Path(os.path.relpath(real, start)).parts
        if glob_match(list(parts), pats):
            found.append(rel(base, real) + ("/" if is_dir else ""))
    return found, tree.note()
