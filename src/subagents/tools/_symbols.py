"""The definitions and name uses of one Python file, read with :mod:`ast` (for ``find``).

A :class:`FileIndex` holds every class, function and method of a file (at any depth), its
module- and class-level assignments (constants, settings, fields), and where each name is
used or raised, with the ``class``/``def`` around the use. Files are parsed once per
``(path, mtime, size)`` and kept in a cache shared by every ``find`` tool, bounded by the
source bytes it holds (``MAX_INDEXED_BYTES``).
"""

from __future__ import annotations

import ast
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

from subagents.tools._stop_words import STOP_WORDS

__all__ = [
    "MAX_INDEXED_BYTES", "MAX_TEXT", "FileIndex", "Symbol", "Use", "file_index", "first_sentence",
    "parse", "stem", "terms",
]

MAX_TEXT = 160
"""Characters of a definition's one-line text or docstring sentence shown at most."""
MAX_SEGMENT_LINES = 6
"""Lines of an assignment read for its one-line text at most."""
MAX_DOC_INDEXED = 400
"""Characters of a docstring's first paragraph whose words are searched."""
MAX_INDEXED_BYTES = 24_000_000
"""Bytes of Python source one search indexes, and the cache keeps, at most (an index takes
about 8x its source in memory: this bounds it near 200 MB)."""

_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s")
_PIECES = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_local = threading.local()


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of a lower-case ``word``.

    ``retried`` and ``retry`` are both ``retri``.
    """
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # a stemmer object keeps state between calls: one per thread
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return str(stemmer.stemWord(word))


ABBREVIATIONS = {
    "maximum": "max", "minimum": "min", "configur": "config", "authent": "auth",
    "initi": "init", "argument": "arg", "paramet": "param", "directori": "dir",
    "environ": "env", "attribut": "attr", "connect": "conn", "applic": "app",
}
"""Stems of words code usually abbreviates, mapped to the abbreviation's stem, so
``maximum number of connections`` meets ``max_connections``."""


def terms(text: str) -> frozenset[str]:
    """The stemmed words of ``text`` (3+ letters), English function words dropped.

    Identifiers are split at ``_`` and case changes (``DEFAULT_MAX_REDIRECTS``,
    ``maxRedirects``); ``ABBREVIATIONS`` map long stems to short ones.
    """
    found = (stem(w) for w in (p.lower() for p in _PIECES.findall(text))
             if len(w) > 2 and w not in STOP_WORDS)
    return frozenset(ABBREVIATIONS.get(t, t) for t in found)


@dataclass(frozen=True, slots=True)
class Symbol:
    """One definition: ``kind`` is ``class``, ``def`` or ``value`` (an assignment).

    ``name`` is qualified by the classes and functions around it (``Client._redirect_url``,
    ``RetryPolicy.max_attempts``); ``text`` is its one-line signature or assignment;
    ``doc`` the first paragraph of its docstring (a string right after an assignment
    counts), whitespace collapsed.
    """

    kind: str
    name: str
    line: int
    text: str
    doc: str
    name_terms: frozenset[str] = frozenset()
    text_terms: frozenset[str] = frozenset()
    doc_terms: frozenset[str] = frozenset()

    @classmethod
    def of(cls, kind: str, name: str, line: int, text: str, doc: str) -> Symbol:
        """A symbol with its searched words.

        Of its own name (the last part of ``name``), of ``text`` and of ``doc``.
        """
        return cls(kind, name, line, text, doc, terms(name.rsplit(".", 1)[-1]), terms(text),
                   terms(doc))


@dataclass(frozen=True, slots=True)
class Use:
    """A line that names an identifier.

    ``scope`` is ``def f of class C`` or ``""``; ``raised`` when the line raises it (``raise X`` /
    ``raise X(...)``).
    """

    line: int
    scope: str
    raised: bool


@dataclass(slots=True)
class FileIndex:
    """The definitions of one file and, per identifier, the lines that use it."""

    symbols: list[Symbol] = field(default_factory=list)
    uses: dict[str, list[Use]] = field(default_factory=dict)


def _one_line(text: str, limit: int = MAX_TEXT) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _doc(body: list[ast.stmt], at: int = 0) -> str:
    """The first paragraph of the string statement at ``body[at]``, or ``""``."""
    if at < len(body):
        node = body[at]
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            paragraph = node.value.value.strip().split("\n\n", 1)[0]
            return _one_line(paragraph, MAX_DOC_INDEXED)
    return ""


def first_sentence(doc: str) -> str:
    """The first sentence of ``doc``, at most ``MAX_TEXT`` characters."""
    return _one_line(_SENTENCE.split(doc, 1)[0])


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = [ast.unparse(b) for b in node.bases]
        return f"class {node.name}" + (f"({', '.join(bases)})" if bases else "")
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _scope_text(stack: list[tuple[str, str]]) -> str:
    """``def f of class C`` from the enclosing ``(kind, name)`` stack (innermost last)."""
    if not stack:
        return ""
    kind, name = stack[-1]
    outer = next((n for k, n in reversed(stack[:-1]) if k == "class"), None)
    return f"{kind} {name}" + (f" of class {outer}" if outer and kind == "def" else "")


class _Reader(ast.NodeVisitor):
    """Collects a file's definitions and uses; ``source`` gives assignments' own text."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.index = FileIndex()
        self.stack: list[tuple[str, str]] = []

    def _qualified(self, name: str) -> str:
        return ".".join([n for _, n in self.stack] + [name])

    def _define(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        self.index.symbols.append(Symbol.of(kind, self._qualified(node.name), node.lineno,
                                            _one_line(_signature(node)), _doc(node.body)))
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.stack.append((kind, node.name))
        if not isinstance(node, ast.ClassDef):
            self.visit(node.args)  # a default's use is shown as in the function it sets up
            if node.returns:
                self.visit(node.returns)
        else:
            for base in node.bases:
                self.visit(base)
        self._body(node.body)
        self.stack.pop()

    visit_FunctionDef = _define
    visit_AsyncFunctionDef = _define
    visit_ClassDef = _define

    def _body(self, body: list[ast.stmt]) -> None:
        in_function = bool(self.stack) and self.stack[-1][0] == "def"
        for at, statement in enumerate(body):
            if not in_function and isinstance(statement, ast.Assign | ast.AnnAssign):
                self._assignment(statement, _doc(body, at + 1))
            self.visit(statement)

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node.body)

    def _assignment(self, node: ast.Assign | ast.AnnAssign, doc: str) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        text = self._segment(node)
        for target in targets:
            if isinstance(target, ast.Name) and target.id != "__all__":
                self.index.symbols.append(Symbol.of("value", self._qualified(target.id),
                                                    node.lineno, _one_line(text), doc))

    def _segment(self, node: ast.stmt) -> str:
        """The start of ``node``'s own source text, without splitting the file per node.

        Its first ``MAX_SEGMENT_LINES`` lines, at most ``4 * MAX_TEXT`` characters.
        """
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        rows = self.lines[first:min(last, first + MAX_SEGMENT_LINES) + 1]
        if not rows:
            return ""
        if last == first + len(rows) - 1 and node.end_col_offset is not None:
            rows[-1] = rows[-1].encode()[:node.end_col_offset].decode(errors="ignore")
        rows[0] = rows[0].encode()[node.col_offset:].decode(errors="ignore")
        return "".join(row[:4 * MAX_TEXT] for row in rows)[:4 * MAX_TEXT]

    def _use(self, name: str, line: int, raised: bool = False) -> None:
        uses = self.index.uses.setdefault(name, [])
        if not uses or uses[-1].line != line:
            uses.append(Use(line, _scope_text(self.stack), raised))

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node.id, node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._use(node.attr, node.lineno)
        self.visit(node.value)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name | ast.Attribute):
            name = exc.id if isinstance(exc, ast.Name) else exc.attr
            self._use(name, node.lineno, raised=True)
        self.generic_visit(node)


def parse(source: str) -> FileIndex:
    """The :class:`FileIndex` of Python ``source``.

    An empty one if it does not parse (a syntax error, or nesting too deep for the parser or the
    walk).
    """
    try:
        reader = _Reader(source)
        reader.visit(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return FileIndex()
    return reader.index


_cache: OrderedDict[tuple[str, int, int], FileIndex] = OrderedDict()
_cached_bytes = 0
_lock = threading.Lock()


def file_index(path: str, load: Callable[[], bytes | None]) -> FileIndex | None:
    """The index of the file at real ``path``.

    From the cache when its ``(path, mtime, size)`` was parsed before, else parsed from ``load()``
    (``None``: not readable, not indexed, nothing cached).
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    data = load()
    if data is None:
        return None
    index = parse(data.decode("utf-8", errors="replace"))
    global _cached_bytes
    with _lock:
        if key not in _cache:
            _cache[key] = index
            _cached_bytes += stat.st_size
        while _cached_bytes > MAX_INDEXED_BYTES and len(_cache) > 1:
            _cached_bytes -= _cache.popitem(last=False)[0][2]
    return index
