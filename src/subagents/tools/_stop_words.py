"""English words that a sentence-like ``grep`` pattern drops before its words are searched."""

from __future__ import annotations

__all__ = ["STOP_WORDS"]

STOP_WORDS = frozenset({
    "about", "after", "all", "also", "and", "any", "are", "been", "but", "can", "could",
    "does", "for", "from", "had", "has", "have", "how", "into", "its", "made", "make", "many",
    "may", "more", "most", "must", "not", "one", "only", "other", "should", "some", "such",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "used", "uses", "using", "was", "were", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "would", "you", "your",
})
"""Words (case-folded, three letters or more) a pattern of plain words is searched without:
``which class keeps a value`` searches ``class``, ``keep``, ``value``."""
