"""Hypothesis strategies for hostile tool-call arguments and malformed model replies.

Used by ``tests/test_properties_*.py``. Strings come in four kinds: ordinary text, special
characters (NUL, lone surrogates, RTL override, JSON-ish text), huge strings (100k chars,
taken from a fixed set so hypothesis never builds or shrinks them) and names without lone
surrogates (refusals echo names back; see test_refusals_echoing_surrogate_names_parse in
test_properties_refusals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "AWAIT_MODES",
    "HUGE",
    "SPECIAL",
    "Foreign",
    "Own",
    "args_like",
    "names",
    "resolve",
    "strings",
    "values",
]

SPECIAL = [
    "", " ", "\n\t", "\x00", "a\x00b", "\ud800", "x\udfffy", "\U0001f4a5" * 3, "\u202eevil",
    "null", "[]", "{}", "bg_1", "bg_0", "\\", '"', "<|im_end|>", "task", "agent_status",
]
HUGE = ["a" * 100_000, "\x00\u00e9" * 50_000, "\U0001f600" * 100_000, "\ud800" * 100_000]
AWAIT_MODES = ["all", "allSettled", "any", "race"]

strings = st.one_of(
    st.text(max_size=40), st.sampled_from(SPECIAL), st.sampled_from(HUGE),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), strings,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=3),
    max_leaves=5,
)
"""Any JSON-like value: wrong types for every field, including empty lists and dicts."""

names = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=24)
"""Tool or agent names without lone surrogates."""


@dataclass(frozen=True)
class Own:
    """Placeholder for the i-th background id of the current run (resolved at reply time)."""

    i: int


@dataclass(frozen=True)
class Foreign:
    """Placeholder for a background id that belongs to another run."""


def resolve(value: Any, own: list[str], foreign: str) -> Any:
    """Replace ``Own``/``Foreign`` placeholders (at any depth) by real ids."""
    if isinstance(value, Own):
        return own[value.i % len(own)] if own else "bg_0"
    if isinstance(value, Foreign):
        return foreign
    if isinstance(value, list):
        return [resolve(v, own, foreign) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, own, foreign) for k, v in value.items()}
    return value


@st.composite
def args_like(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Arguments shaped after ``fields``: each field good, wrong-typed or missing, plus extras."""
    out: dict[str, Any] = {}
    for name, good in fields.items():
        kind = draw(st.sampled_from(["good", "good", "good", "bad", "missing"]))
        if kind == "good":
            out[name] = draw(good)
        elif kind == "bad":
            out[name] = draw(values)
    extras = draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in fields),
                                  values, max_size=2))
    return {**out, **extras}
