"""Glob matching and collection for the ``list_files`` tool."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from subagents.tools._paths import rel, walk

MAX_PATTERN = 200


def glob_match(parts: list[str], pats: list[str]) -> bool:
    if not pats:
        return not parts
    if pats[0] == "**":
        return glob_match(parts, pats[1:]) or (bool(parts) and glob_match(parts[1:], pats))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0].casefold(), pats[0].casefold())
        and glob_match(parts[1:], pats[1:])
    )


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


def collect(base: str, start: str, pats: list[str]) -> list[str]:
    recursive = len(pats) > 1 or pats[0] == "**"
    found: list[str] = []
    for real, is_dir in walk(base, start, recursive=recursive):
        parts = Path(os.path.relpath(real, start)).parts
        if glob_match(list(parts), pats):
            found.append(rel(base, real) + ("/" if is_dir else ""))
    return found
