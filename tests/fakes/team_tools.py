"""Tools a team file names by import path (``team_tools:shout``); the tests put ``tests/fakes``
on ``sys.path``."""

from __future__ import annotations

from langchain_core.tools import tool

NOT_CALLABLE = 42


def shout(text: str) -> str:
    """Return the text in capitals."""
    return text.upper()


async def count_words(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


def undocumented(text: str) -> str:
    return text


@tool
def reverse(text: str) -> str:
    """Reverse a text."""
    return text[::-1]


class Helpers:
    """A namespace: ``team_tools:Helpers.double`` is a dotted attribute."""

    @staticmethod
    def double(n: int) -> int:
        """Double a number."""
        return 2 * n
