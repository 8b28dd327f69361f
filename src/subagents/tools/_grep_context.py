"""What a ``grep`` row shows beyond its line: the enclosing definition and a value's rest.

Small models answer "which class/function does X" and "what is the default of Y" from grep
rows alone. A docstring or a field line names neither its class nor its function, and an
assignment split over lines (``LIMIT = int(`` / ``getenv("LIMIT", "500"))``) hides its
value on the next line. So a shown row gets, from the same file:

* the innermost ``class``/``def`` around an indented line: ``(in class RetryPolicy)``,
  ``(in def __init__ of class Client)``;
* the continuation lines of a definition or assignment whose brackets are still open,
  joined with single spaces (at most ``MAX_JOINED`` lines).
"""

from __future__ import annotations

import re

__all__ = ["MAX_JOINED", "MAX_SCOPE_LOOKBACK", "annotate"]

MAX_JOINED = 4
"""Continuation lines appended to a row at most."""
MAX_SCOPE_LOOKBACK = 2_000
"""Lines above a row searched for its enclosing ``class``/``def`` at most."""

_SCOPE = re.compile(r"^(\s*)(?:async\s+)?(class|def)\s+([A-Za-z_]\w*)")
_ASSIGNS = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\s*(?::[^=\n]*)?=(?!=)|(?:async\s+)?def\s|class\s)")
_OPEN = str.maketrans("", "", "\"'")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def scope(lines: list[str], number: int) -> str:
    """``class X`` / ``def f of class X`` around line ``number`` (1-based), or ``""``.

    The innermost ``class``/``def`` above the line with less indentation, and the class
    around that function if any; ``""`` for a line at the top level.
    """
    text = lines[number - 1]
    if not text.strip():
        return ""
    width = _indent(text)
    names: list[str] = []
    for index in range(number - 2, max(number - 2 - MAX_SCOPE_LOOKBACK, -1), -1):
        above = lines[index]
        if not above.strip() or _indent(above) >= width:
            continue
        found = _SCOPE.match(above)
        if found is None:
            if _indent(above) == 0:
                break  # top-level code that is no definition: the row is in no scope
            continue
        names.append(f"{found.group(2)} {found.group(3)}")
        width = len(found.group(1))
        if width == 0 or len(names) == 2:
            break
    return " of ".join(names)


def _depth(text: str) -> int:
    """Open brackets of ``text`` minus closed ones (string contents are not parsed)."""
    plain = text.translate(_OPEN)
    return sum(plain.count(c) for c in "([{") - sum(plain.count(c) for c in ")]}")


def continued(lines: list[str], number: int, limit: int) -> str:
    """Line ``number`` (1-based), stripped, with the rest of an open assignment or signature."""
    text = lines[number - 1].strip()
    if not _ASSIGNS.match(lines[number - 1]):
        return text
    depth = _depth(text)
    index = number
    while depth > 0 and index < len(lines) and index < number + MAX_JOINED and len(text) < limit:
        more = lines[index].strip()
        glued = text.endswith(("(", "[", "{")) or more.startswith((")", "]", "}"))
        text = f"{text}{more}" if glued else f"{text} {more}"
        depth += _depth(more)
        index += 1
    return text


def annotate(lines: list[str] | None, number: int, text: str, limit: int) -> str:
    """The row text of line ``number``: its value's rest and its enclosing definition.

    Args:
        lines: the file's lines (None when it could not be read again: ``text`` as is).
        number: the row's 1-based line number.
        text: the row's line as searched.
        limit: characters of the joined text kept at most (longer ends with ``...``).

    Returns:
        ``text`` stripped, continued, cut to ``limit``, then ``  (in class X)`` if any.
    """
    if lines is None or not 0 < number <= len(lines) or lines[number - 1] != text:
        shown = text.strip()
        return shown[:limit] + "..." if len(shown) > limit else shown
    shown = continued(lines, number, limit)
    if len(shown) > limit:
        shown = shown[:limit] + "..."
    where = scope(lines, number)
    return f"{shown}  (in {where})" if where else shown
