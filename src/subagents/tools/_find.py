"""The search behind the ``find`` tool: Python definitions ranked by a question's words.

Every definition of the searched files (``_symbols``) is scored by the question's words
(stemmed, English function words dropped), each weighted by how rare it is among the
definitions (inverse document frequency): a word in the definition's own name counts 3x,
in its signature or assigned value 1.5x, in its docstring 1x, in its file's path 0.5x,
half of it scaled by the share of the question's words matched at all (``_COVERAGE``). A
name the question writes as code (``RetryPolicy``, ``max_attempts``, ``URL``) puts the
definition of that name first and its members next, and lifts a definition whose signature
or value holds it whole; a plain word that is a definition's
whole name (``the interrupt function``) lifts it too. The words ``class``, ``function``,
``method`` and ``constant`` prefer that kind of definition (another kind scores half)
instead of being searched.
"""

from __future__ import annotations

import functools
import heapq
import math
import os
import re
from collections import Counter

from subagents.tools._grep import MAX_FILE_BYTES, grep
from subagents.tools._paths import (
    MAX_WALK_ENTRIES,
    ToolPathError,
    files_under,
    open_confined,
    rel,
    resolve,
    search_start,
    show,
)
from subagents.tools._stop_words import STOP_WORDS
from subagents.tools._symbols import (
    MAX_INDEXED_BYTES,
    FileIndex,
    Symbol,
    file_index,
    first_sentence,
    terms,
)

__all__ = ["MAX_ROWS", "MAX_USES", "find"]

MAX_ROWS = 10
"""Definitions one answer shows at most."""
MAX_USES = 3
"""Lines that use or raise a name shown under each of the first ``USES_SHOWN_FOR`` rows."""
USES_SHOWN_FOR = 3
MAX_FIELDS_TEXT = 400
"""Characters of a class's ``fields:`` line (its own assignments, with values) at most."""
_NAME_WEIGHT, _TEXT_WEIGHT, _DOC_WEIGHT, _PATH_WEIGHT = 3.0, 1.5, 1.0, 0.5
_EXACT_NAME, _MEMBER, _PLAIN_NAME, _SAME_CASE = 12.0, 4.0, 4.0, 1.0
_OTHER_KIND = 0.5
"""Score factor of a definition of another kind than the query asks for (``function``)."""
_COVERAGE = 0.5
"""Share of a definition's word score that depends on how much of the query it matches:
the words' score is multiplied by ``1 - _COVERAGE + _COVERAGE * matched / all`` (weights
summed), so a definition matching every word beats one matching fewer in a better field."""
_CODE_WORD = 0.3
"""Weight factor of a word that comes only from a name the query writes as code: the name
itself is matched whole (``create_react_agent`` must not also win on ``agent``)."""
_MIN_SCORE = 1.0
_KINDS = {"class": "class", "function": "def", "method": "def", "constant": "value"}
_QUESTION_WORDS = terms("file defines defined definition class function method constant hold")
_OPENERS = STOP_WORDS | {"find", "show", "list", "give", "tell", "explain", "get", "locate",
                         "search", "does", "did"}
"""Capitalised first words that start a question, not a name (``Which``, ``Find``)."""
_RAISED = frozenset({"raise", "raised", "raises", "throw", "thrown", "throws"})
_USED = re.compile(r"\b(?:used|uses|using|called|calls|referenced)\b(?!\s+to\b)", re.IGNORECASE)
"""A question about where a name is used (``used to verify`` is a purpose, not a place)."""
_CAMEL_OR_SNAKE = re.compile(r"_|[a-z][A-Z]|[A-Za-z]\d")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INIT_PARAMS = re.compile(r"(?<=\()self(?:, \*)?(?:, |(?=\)))")
"""``self, *, `` at the start of an ``__init__``'s parameters (dropped from a class's fields)."""
_CODE_SHAPE = re.compile(r"_|[a-z][A-Z]|\d|^[A-Z]{2,}$|^[A-Z][a-z]+[A-Z]")

Entry = tuple[str, Symbol, frozenset[str]]


def _named(query: str) -> tuple[set[str], set[str]]:
    """Names the query writes as code, and its other words of 3+ characters, lower-cased.

    Code: ``max_attempts``, ``RetryPolicy``, ``URL``, a capitalised word that does not
    start the sentence (``the Send class``), or one that does unless it is an English word
    a question starts with (``Send`` alone); other: ``the interrupt function``, kept as
    written and lower-cased (a name equal to it in any case is lifted, in the same case a
    little more).
    """
    code: set[str] = set()
    plain: set[str] = set()
    for at, match in enumerate(_IDENT.finditer(query)):
        word = match.group()
        capital = word[:1].isupper() and len(word) > 2
        opener = at == 0 and word.lower() in _OPENERS
        if _CODE_SHAPE.search(word) or (capital and not opener):
            code.add(word)
        elif len(word) > 2:
            plain.update((word, word.lower()))
    return code, plain


def _is_code(token: str, code: set[str]) -> bool:
    """Whether ``token`` holds a name written as code beyond doubt.

    ``max_attempts``, ``RetryPolicy`` are; a capitalised word (``Digest``) or an acronym
    (``HTTP``) is prose too.
    """
    return any(name in code and _CAMEL_OR_SNAKE.search(name) for name in _IDENT.findall(token))


def _index(root: str, files: list[str]) -> tuple[list[tuple[str, FileIndex]], str]:
    """The index of each ``.py`` file (by path relative to ``root``), and a cut note.

    The note is ``""`` unless the byte budget (``MAX_INDEXED_BYTES``) stopped the reading.
    """
    indexes: list[tuple[str, FileIndex]] = []
    budget = MAX_INDEXED_BYTES
    for count, path in enumerate(p for p in files if p.endswith(".py")):
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        if size > MAX_FILE_BYTES:
            continue
        budget -= size
        if budget < 0:
            return indexes, (f"stopped after {MAX_INDEXED_BYTES // 1_000_000} MB of Python "
                             f"({count} file{'' if count == 1 else 's'} indexed)")
        index = file_index(path, functools.partial(_read, root, path))
        if index is not None:
            indexes.append((rel(root, path), index))
    return indexes, ""


def _read(root: str, path: str) -> bytes | None:
    try:
        fh, _ = open_confined(root, path)
    except (OSError, ToolPathError):
        return None
    with fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    return None if len(data) > MAX_FILE_BYTES or b"\x00" in data[:8192] else data


def _idf(entries: list[Entry]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for _, symbol, path_terms in entries:
        counts.update(symbol.name_terms | symbol.text_terms | symbol.doc_terms | path_terms)
    total = len(entries) + 1
    return {word: math.log(total / (count + 0.5)) for word, count in counts.items()}


def _score(symbol: Symbol, path_terms: frozenset[str], words: dict[str, float],
           named: tuple[set[str], set[str]], kinds: set[str]) -> float:
    """How well ``symbol`` matches: ``words`` maps each searched word to its weight."""
    score = matched = 0.0
    for word, weight in words.items():
        if word in symbol.name_terms:
            score += _NAME_WEIGHT * weight
        elif word in symbol.text_terms:
            score += _TEXT_WEIGHT * weight
        elif word in symbol.doc_terms:
            score += _DOC_WEIGHT * weight
        elif word in path_terms:
            score += _PATH_WEIGHT * weight
        else:
            continue
        matched += weight
    total = sum(words.values())
    if total:
        score *= 1.0 - _COVERAGE + _COVERAGE * matched / total
    parts = symbol.name.split(".")
    code, plain = named
    if code.intersection(parts[:-1]):
        score += _MEMBER
    if any(name not in parts and _CAMEL_OR_SNAKE.search(name) and name in symbol.text
           and re.search(rf"(?<!\w){name}(?!\w)", symbol.text) for name in code):
        score += _MEMBER  # holds a name written as code (a parameter, a key, a value)
    if parts[-1] in code:  # named as code; of another kind than asked for, it is context
        score += _EXACT_NAME if not kinds or symbol.kind in kinds else _MEMBER
    elif parts[-1].lower() in plain:
        score += _PLAIN_NAME + (_SAME_CASE if parts[-1] in plain else 0.0)
    return score if not kinds or symbol.kind in kinds else score * _OTHER_KIND


def _use_rows(indexes: list[tuple[str, FileIndex]], path: str, symbol: Symbol
              ) -> list[tuple[bool, str]]:
    """``(raised, "path:LINE (in def f of class C)")`` for each line naming ``symbol``.

    Raises first; by name only, so a same-named identifier elsewhere counts too.
    """
    name = symbol.name.rsplit(".", 1)[-1]
    rows = []
    for where, index in indexes:
        for use in index.uses.get(name, ()):
            if where == path and use.line == symbol.line:
                continue
            scope = f" (in {use.scope})" if use.scope else ""
            rows.append((use.raised, f"{where}:{use.line}{scope}"))
    rows.sort(key=lambda r: not r[0])
    return rows


def _uses(rows: list[tuple[bool, str]]) -> list[str]:
    """At most ``MAX_USES`` ``raised at ...`` / ``used at ...`` lines, the rest counted."""
    shown = [f"{'raised' if raised else 'used'} at {where}" for raised, where in rows[:MAX_USES]]
    if len(rows) > MAX_USES:
        shown[-1] += f" (+{len(rows) - MAX_USES} more)"
    return shown


def _best(path: str, symbol: Symbol, rows: list[tuple[bool, str]], intent: str) -> str:
    """The first line: what the best definition is, and where it is defined.

    When the query asks where it is raised or used (``intent``), that comes first.
    """
    owner = symbol.name.rpartition(".")[0]
    if symbol.kind == "value":
        what = f"{owner + '.' if owner else ''}{symbol.text}"
    elif symbol.kind == "class":
        what = f"class {symbol.name}"
    else:
        what = f"{'method' if owner else 'function'} {symbol.name}"
    wanted = [where for raised, where in rows if raised == (intent == "raised")]
    said = ""
    if intent and wanted:
        more = f" and {len(wanted) - 1} more place{'s' if len(wanted) > 2 else ''}" \
            if len(wanted) > 1 else ""
        said = f", {intent} at {wanted[0]}{more};"
    return f"Best match: {what}{said or ','} defined at {path}:{symbol.line}"


def _row(path: str, symbol: Symbol) -> str:
    owner = symbol.name.rsplit(".", 1)[0] if "." in symbol.name else ""
    around = f"  (in {owner})" if owner and symbol.kind != "value" else ""
    text = symbol.text if symbol.kind != "value" or not owner else f"{owner}.{symbol.text}"
    return f"{path}:{symbol.line}: {text}{around}"


def _members(index: FileIndex, symbol: Symbol) -> str:
    """A class's ``fields:`` line, or ``""``.

    Its own assignments (``a: int = 3; b = 2.0``), then the parameters of its ``__init__``
    when one has a default (``__init__(x: int=5)``).
    """
    prefix = symbol.name + "."
    fields = [m.text for m in index.symbols if m.kind == "value"
              and m.name.startswith(prefix) and "." not in m.name[len(prefix):]]
    init = next((m.text for m in index.symbols if m.name == prefix + "__init__"), "")
    params = _INIT_PARAMS.sub("", init.removeprefix("def ").removesuffix(" -> None"))
    if "=" in params:
        fields.append(params)
    if not fields:
        return ""
    text = "; ".join(fields)
    return "    fields: " + (text if len(text) <= MAX_FIELDS_TEXT
                             else text[:MAX_FIELDS_TEXT - 3].rstrip() + "...")


def _ranked(root: str, query: str, indexes: list[tuple[str, FileIndex]]
            ) -> list[tuple[str, Symbol]]:
    """The best ``MAX_ROWS`` definitions for ``query``, best first (ties: shorter path)."""
    lowered = {w.lower() for w in re.findall(r"\w+", query)}
    kinds = {kind for word, kind in _KINDS.items() if word in lowered}
    skip = _QUESTION_WORDS | terms(os.path.basename(root))
    named = _named(query)
    prose = terms(re.sub(r"\S+", lambda m: "" if _is_code(m.group(), named[0]) else m.group(),
                         query))
    entries: list[Entry] = [(where, symbol, path_terms) for where, index in indexes
                            for path_terms in (terms(where),) for symbol in index.symbols]
    idf = _idf(entries)
    words = {w: idf.get(w, 0.0) * (1.0 if w in prose else _CODE_WORD)
             for w in terms(query) if w not in skip}
    scored = heapq.nsmallest(
        MAX_ROWS, ((-_score(s, pt, words, named, kinds), len(w), w, s.line, s)
                   for w, s, pt in entries), key=lambda r: r[:4])
    return [(w, s) for score, _, w, _, s in scored if -score > _MIN_SCORE]


def _intent(query: str) -> str:
    """``raised`` or ``used`` when the query asks where something is raised or used."""
    words = {w.lower() for w in re.findall(r"\w+", query)}
    return "raised" if words & _RAISED else "used" if _USED.search(query) else ""


def _render(query: str, best: list[tuple[str, Symbol]],
            indexes: list[tuple[str, FileIndex]]) -> list[str]:
    by_path = dict(indexes)
    intent = _intent(query)
    lines = [f"Definitions matching '{show(query)}', best first:"]
    for at, (where, symbol) in enumerate(best):
        uses = (_use_rows(indexes, where, symbol)
                if (at < USES_SHOWN_FOR and symbol.kind != "def") or (at == 0 and intent) else [])
        if at == 0:
            lines.append(_best(where, symbol, uses, intent))
        lines.append(_row(where, symbol))
        if symbol.doc:
            lines.append(f'    """{first_sentence(symbol.doc)}"""')
        if at < USES_SHOWN_FOR and symbol.kind == "class":
            members = _members(by_path[where], symbol)
            lines.extend([members] if members else [])
        lines.extend(f"    {use}" for use in _uses(uses))
    return lines


def find(root: str, query: str, path: str = ".", max_files: int = MAX_WALK_ENTRIES) -> str:
    """Search the Python definitions under ``root``/``path`` (rules: ``tools.find.find``)."""
    start = search_start(root, path, "query", query, "a name or a few words of what you look for")
    if isinstance(start, ToolPathError):
        return str(start)
    if start is None:
        path, start = ".", resolve(root, ".")
    files, cut = files_under(root, start, max_files)
    indexes, budget_cut = _index(root, files)
    cut = cut or budget_cut
    best = _ranked(root, query, indexes)
    tail = f"\n({cut}; narrow with path=...)" if cut else ""
    if not best:  # no definition: what the text search finds
        return (f"No Python definition matches '{show(query)}' ({len(indexes)} Python files "
                f"searched); text search:{tail}\n" + grep(root, query, path, max_files))
    return "\n".join(_render(query, best, indexes)) + tail
