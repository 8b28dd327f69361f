"""``grounded``: an ``Agent.answer_check`` rejecting claims no tool result supports.

Small models answer fluently with constants, classes, numbers and paths they never saw. The
check extracts the answer's claims (code identifiers, numbers, file paths, quoted strings)
and rejects the answer when one appears in no successful tool result of the run nor in the
task; the correction lists the unsupported claims and the closest supported spans.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from subagents.nodes.plan import NUDGE_KEY
from subagents.spec import AnswerCheck
from subagents.tools._check import _strip, _tails, find_paths

__all__ = ["Claim", "all_checks", "claims", "grounded"]

MAX_CLAIMS = 100
"""Claims of one answer checked at most (the first ones, duplicates dropped)."""
MAX_CLAIM_CHARS = 200
"""Longer runs are no claim (no real identifier, number or path is that long)."""
MAX_QUOTED = 80
"""Characters of a quoted string checked at most (longer quotes are no claim)."""
MAX_CANDIDATES = 2000
"""Supported tokens the correction's closest matches are drawn from at most."""
MAX_LISTED = 5
"""Unsupported claims a correction lists at most."""
MAX_SPAN_CHARS = 160
"""Characters of a supporting tool-output line a correction quotes at most."""

_RUN = re.compile(r"[\w./-]+")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*$")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_CODE_SHAPE = re.compile(r"_|[a-z][A-Z]|[A-Z][a-z0-9]+[A-Z]")
_QUOTED = re.compile(rf"\"([^\"\n]{{1,{MAX_QUOTED}}})\"|'([^'\s]{{1,{MAX_QUOTED}}})'")


@dataclass(frozen=True)
class Claim:
    """One checkable item of an answer.

    Attributes:
        kind: ``"identifier"`` (snake_case, CamelCase, dotted name), ``"number"``,
            ``"path"`` or ``"quoted"`` (the text between double quotes, or a one-word
            single-quoted string).
        text: the item as the answer spells it (a path without a leading ``./``).
    """

    kind: str
    text: str


def claims(answer: str) -> list[Claim]:
    """The claims of ``answer``, in order, duplicates dropped, at most ``MAX_CLAIMS``.

    Linear in ``len(answer)``: one scan for runs of word characters, ``.``, ``/`` and ``-``
    (each classified in time linear in its length; runs over ``MAX_CLAIM_CHARS`` skipped)
    and one for quoted strings of at most ``MAX_QUOTED`` characters. Plain words
    (``timeout``, ``The``) are no claims: an identifier claim has an underscore or an inner
    capital (``DEFAULT_TIMEOUT``, ``StateGraph``, ``getValue``), or is a dotted name of
    identifiers (``httpx.Client``).
    """
    found: dict[Claim, None] = {}
    for run in _RUN.finditer(answer):
        text = _norm(run[0]) if len(run[0]) <= MAX_CLAIM_CHARS else ""
        if text:
            for claim in _classify(text):
                found.setdefault(claim, None)
        if len(found) >= MAX_CLAIMS:
            return list(found)[:MAX_CLAIMS]
    for quote in _QUOTED.finditer(answer):
        found.setdefault(Claim("quoted", quote[1] or quote[2]), None)
        if len(found) >= MAX_CLAIMS:
            break
    return list(found)[:MAX_CLAIMS]


def _norm(run: str) -> str:
    """A run without its leading ``./`` and trailing ``.``, ``-``, ``/`` (sentence ends)."""
    return _strip(run).rstrip(".-/")


def _classify(text: str) -> list[Claim]:
    paths = find_paths(text)
    if paths:
        return [Claim("path", _strip(paths[0]))]
    if _NUMBER.match(text):
        return [Claim("number", text)]
    parts = text.split(".")
    if len(parts) > 1 and all(len(p) > 1 and _IDENT.match(p) for p in parts):
        return [Claim("identifier", text)]
    return [Claim("identifier", w) for w in _WORD.findall(text)
            if _IDENT.match(w) and _CODE_SHAPE.search(w)]


@dataclass
class _Support:
    """What a run's tool results and task support: words, paths, text, and lines by word."""

    words: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)  # every path seen and each of its tails
    texts: list[str] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)

    def add(self, text: str, quote_lines: bool) -> None:
        for part in _decoded(text):
            self._add(part, quote_lines)

    def _add(self, text: str, quote_lines: bool) -> None:
        self.texts.append(text)
        self.words.update(_WORD.findall(text))
        for run in _RUN.finditer(text):
            if len(run[0]) <= MAX_CLAIM_CHARS:  # as in claims(): longer runs are no claim
                norm = _norm(run[0])
                self.words.add(norm)
                self.paths.update(_tails(find_paths(norm)))
        if not quote_lines:
            return
        for line in text.splitlines():
            if len(self.lines) >= MAX_CANDIDATES:
                return
            for word in _WORD.findall(line):
                if _CODE_SHAPE.search(word) or _NUMBER.match(word):
                    self.lines.setdefault(word, line.strip()[:MAX_SPAN_CHARS])

    def supports(self, claim: Claim) -> bool:
        text = claim.text
        if claim.kind == "path":
            tails = [text[i + 1:] for i, c in enumerate(text) if c == "/"]
            return text in self.paths or any("/" in t and t in self.paths for t in tails)
        if claim.kind == "quoted":
            return any(text in t for t in self.texts)
        if text in self.words:
            return True
        parts = text.split(".")
        return len(parts) > 1 and all(p in self.words for p in parts)


def _decoded(text: str) -> list[str]:
    """``text``, and the strings inside it when it is JSON.

    A delegation result escapes the child's newlines and quotes, so a line ``DEFAULT_X = 1``
    after a newline reads ``nDEFAULT_X`` as a word of the raw text.
    """
    if not text.lstrip().startswith(("{", "[")):
        return [text]
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):
        return [text]
    found = [text]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _support(messages: Sequence[BaseMessage]) -> _Support:
    support = _Support()
    for msg in messages:
        if isinstance(msg, ToolMessage):
            text = _text(msg)
            if msg.status != "error" and not text.lstrip().startswith("Error"):
                support.add(text, quote_lines=True)
        elif isinstance(msg, HumanMessage) and not msg.additional_kwargs.get(NUDGE_KEY):
            support.add(_text(msg), quote_lines=False)
    return support


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def grounded(allow: Iterable[str] = ()) -> AnswerCheck:
    """Build an answer check rejecting claims that no tool result of the run supports.

    The answer's claims (see :func:`claims`: identifiers such as ``DEFAULT_TIMEOUT``,
    ``StateGraph`` or ``httpx.Client``, numbers, file paths, quoted strings) must each appear
    in a successful tool result of the agent's run (a ToolMessage neither with status
    ``error`` nor starting ``Error``; delegation results count, their JSON decoded) or in
    its task (a human
    message the runtime did not write). An identifier or number is supported when it is a
    word of that text (``5`` is supported by ``5.0``), a dotted name when it or each of its
    parts is; a path when it, a path ending with it, or one of its tails with a folder is a
    path there (``langgraph/graph/state.py`` by ``graph/state.py``); a quoted string when it
    is a substring. The system prompt supports nothing.

    Limits: it checks that a claim was *seen*, not that the answer uses it rightly (a real
    constant of the wrong setting passes); plain words, prose numbers spelled out, and
    single-quoted phrases with spaces are no claims; claims past the first ``MAX_CLAIMS``
    (100) are not checked. Work is linear in the answer and the messages, plus a bounded
    ``difflib`` search over at most ``MAX_CANDIDATES`` (2000) supported tokens for the
    correction.

    Args:
        allow: words always accepted (product names such as ``LangGraph``).

    Returns:
        ``check(answer, messages) -> None | correction``, for ``Agent(answer_check=...)``;
        the correction reads like "Your answer names `DEFAULT_LIMIT` (identifier), `42`
        (number), which appear in no tool result above nor in the task. Closest in the tool
        results: `DEFAULT_LIMITS` (in: `_config.py:12: DEFAULT_LIMITS = Limits(...)`).
        Answer only with names, numbers and paths the tool results show; search again if
        needed."

    Example:
        >>> explore = Agent(name="explore", tools=filesystem_tools("."),
        ...                 answer_check=all_checks(paths_exist("."), grounded()))
    """
    allowed = frozenset(allow)

    def check(answer: str, messages: list[BaseMessage]) -> str | None:
        items = [c for c in claims(answer) if c.text not in allowed]
        if not items:
            return None
        support = _support(messages)
        bad = [c for c in items if not support.supports(c)]
        return _correction(bad, support) if bad else None

    return check


def _correction(bad: list[Claim], support: _Support) -> str:
    listed = ", ".join(f"`{c.text}` ({c.kind})" for c in bad[:MAX_LISTED])
    more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    hints: list[str] = []
    candidates = list(support.lines)
    for claim in bad[:MAX_LISTED]:
        for near in difflib.get_close_matches(claim.text, candidates, n=1, cutoff=0.6):
            if near not in hints:
                hints.append(near)
    close = "".join(f" `{h}` (in: `{support.lines[h]}`)." for h in hints)
    return (f"Your answer names {listed}{more}, which appear in no tool result above nor in "
            f"the task." + (f" Closest in the tool results:{close}" if close else "")
            + " Answer only with names, numbers and paths the tool results show; search "
            "again if needed.")


def all_checks(*checks: AnswerCheck) -> AnswerCheck:
    """Combine answer checks: the answer passes when every check accepts it.

    Every check runs, in order; the corrections of those that reject are joined (one per
    line), so the agent learns everything wrong in one retry.

    Args:
        *checks: answer checks (``paths_exist(root)``, ``grounded()``, own callables).

    Returns:
        One ``check(answer, messages) -> None | correction``.

    Raises:
        ValueError: no check was given.
    """
    if not checks:
        raise ValueError("all_checks needs at least one answer check")

    def check(answer: str, messages: list[BaseMessage]) -> str | None:
        found = [c for c in (one(answer, messages) for one in checks) if c]
        return "\n".join(found) if found else None

    return check
