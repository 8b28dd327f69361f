"""The read-only ``find`` tool: a tree's Python definitions, ranked by a name or a question.

The search itself is in ``_find`` (ranking) and ``_symbols`` (what one file defines and uses).
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from subagents.tools._find import find as _find
from subagents.tools._make import make_tool
from subagents.tools._paths import MAX_WALK_ENTRIES, real_root

__all__ = ["find", "find_tool"]


def find(root: str | Path, query: str, path: str = ".",
         max_files: int = MAX_WALK_ENTRIES) -> str:
    """Find the Python definitions under ``root``/``path`` that match a name or a question.

    Every ``class``, function, method, and module- or class-level assignment (constants,
    settings, fields) of the ``.py`` files is read with :mod:`ast` and scored by the words
    it shares with ``query`` (Snowball-stemmed, English function words dropped, common
    abbreviations such as ``max``/``maximum`` joined), each word weighted by how rare it is
    among the definitions: in the definition's own name 3x, in its signature or value
    1.5x, in its docstring 1x, in its path 0.5x; half of that sum is scaled by the share
    of the query's (weighted) words the definition matches at all, so one matching every
    word beats one matching fewer in a better field. A name written as code in ``query``
    (``RetryPolicy``, ``max_attempts``) puts its definition first and its members next,
    lifts the definitions whose signature or value holds it whole (a parameter, a key), and
    its own words count 0.3x; ``class``/``function``/``method``/``constant`` in the query
    weigh other kinds of definition 0.7x (a named definition of another kind is context).
    Parsed files are cached by path, modification time and size, up to 24 MB of source
    (``_symbols.MAX_INDEXED_BYTES``, also the most one search reads).

    Limits: Python files only (use ``grep`` for others); a file that does not parse is
    skipped; uses are found by name, so a same-named identifier elsewhere counts too;
    the score is word overlap, not meaning.

    Args:
        root: The directory the tool is confined to.
        query: A name (``StateGraph``) or the question's words (``default max redirects``),
            under 1000 characters.
        path: Folder or file to search, relative to ``root`` (a missing one searches all).
        max_files: Directory entries walked at most.

    Returns:
        ``Definitions matching '...', best first:``, then ``Best match: class X, defined at
        a.py:12`` (when the query asks where something is raised or used: ``Best match:
        class X, raised at b.py:40 (in def run of class Pipe); defined at a.py:12``), then
        at most ``MAX_ROWS`` (10) rows ``path:LINE: signature-or-assignment  (in Owner)``,
        each followed by its docstring's first sentence and, for the first three classes
        and values, a class's ``fields:`` (its own assignments, and its ``__init__``'s
        parameters when one has a default) and up to three ``raised at
        path:LINE (in def f of class C)`` / ``used at ...`` lines. Bad input gives
        ``Error: ...``; when no definition matches, the ``grep`` answer for ``query``.

    """
    return _find(real_root(root), query, path, max_files)



class _FindArgs(BaseModel):
    query: str = Field(description="A name, or the question's key words.")
    path: str = Field(".", description="Folder or file to search in.")



def find_tool(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> BaseTool:
    """Build the ``find(query, path='.')`` tool confined to ``root`` (see :func:`find`).

    Raises:
        SpecError: ``root`` is not an existing directory.

    """
    return make_tool(
        root,
        "find",
        "Find where classes, functions, methods and constants are defined, by name or by "
        "the question's words. Rows show path:LINE, the definition with its value, its "
        "docstring, and where it is used or raised.",
        _FindArgs,
        lambda base, query, path=".": find(base, query, path, max_files),
    )
