"""Tools for tests of a run that pauses: a ``note`` tool, and an ``ask`` tool that asks a human.

``note_and_ask(pause)``: ``note(q)`` answers "noted"; ``ask(q)`` asks through ``interrupt()``
when ``pause``, else answers "yes" at once (the same run, without the pause).
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool
from langgraph.types import interrupt


def note_and_ask(pause: bool) -> list[Any]:
    @tool
    def note(q: str) -> str:
        """Take a note."""
        return "noted"

    @tool
    def ask(q: str) -> str:
        """Ask the human."""
        return str(interrupt(q)) if pause else "yes"

    return [note, ask]
