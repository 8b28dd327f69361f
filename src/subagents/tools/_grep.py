"""The search strategy behind the ``grep`` tool (literal first, then forgiving fallbacks)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

import re2

from subagents.tools._grep_context import annotate
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

MAX_MATCHES = 30
MAX_CHARS = 8_000
MAX_LINE_CHARS = 200
MAX_FILE_BYTES = 2_000_000
"""Files larger than this are not searched."""
MAX_SEARCH_BYTES = 256_000_000
"""Bytes one search strategy reads at most; past it the answer says the rest was not searched."""

BINARY_PROBE = 8_192

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"\w{3,}")
_PHRASE = re.compile(r"[\w\s-]+")
"""Plain words (``max redirects``): searched for all of its words before its longest one."""
_CODE_NAME = re.compile(r"_|[a-z][A-Z]|\d")
"""A name written as code (``max_size``, ``maxSize``, ``utf8``), not an English word."""
_REGEX_HINT = re.compile(r"[.^$*+?()\[\]{}|\\]")
MAX_REGEX_MEMORY = 8 << 20
"""Bytes RE2 may use for one compiled pattern (larger ones are not run as a regex)."""
UNSUPPORTED = ("(not run as a regex: it uses lookaround or backreferences, which the "
               "linear-time regex engine does not support; searched it as text)")
"""First output line when ``pattern`` is a valid Python regex that RE2 cannot run."""

Matcher = Callable[[str], bool]
Rank = Callable[[str], int]
"""How many of a phrase's words a line holds (rows holding more come first)."""
Attempt = tuple[Matcher, str, str | None, Rank | None]
"""One search strategy: matcher, the note saying what it searched, identifier, rank."""

_DEFINES = (
    r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?"
    r"(?:def|class|function|fn|func|struct|interface|enum|trait|type)\s+{name}\b"
    r"|^(?:(?:export\s+)?(?:const|let|var)\s+)?{name}\s*(?::[^=\n]*)?=(?!=)"
)

_ANY_DEFINITION = re.compile(
    r"^\s*(?:async\s+)?(?:def|class)\s+\w|^[A-Za-z_]\w*\s*(?::[^=\n]*)?=(?!=)")
"""A line defining something: a ``def``/``class`` or a top-level assignment."""


def definition_matcher(name: str) -> Matcher:
    """Lines that define ``name``: ``def``/``class``/``function``... or a top-level ``name =``."""
    compiled = re.compile(_DEFINES.format(name=re.escape(name)))
    return lambda line: compiled.search(line[:1000]) is not None


def _regex_matcher(pattern: str) -> Matcher | str | None:
    """Compile ``pattern`` as a case-insensitive RE2 regex if it has regex characters.

    RE2 matches in time linear in the line, whatever the pattern (no catastrophic
    backtracking), so no shape of pattern can stall the search. Returns None when the
    pattern is no regex (or not a valid one), and ``UNSUPPORTED`` when it is a valid
    Python regex using what RE2 lacks (lookaround, backreferences).
    """
    if not _REGEX_HINT.search(pattern):
        return None
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = MAX_REGEX_MEMORY
    try:
        compiled = re2.compile(pattern, options)
    except re2.error:
        return UNSUPPORTED if _python_regex(pattern) else None
    return lambda line: compiled.search(line[:1000]) is not None


def _python_regex(pattern: str) -> bool:
    """Whether Python's ``re`` compiles ``pattern`` (compiling only; nothing is matched)."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True


def _lines(root: str, path: str) -> Iterator[tuple[int, str]]:
    try:
        fh, size = open_confined(root, path)
    except (OSError, ToolPathError):
        return
    with fh:
        if size > MAX_FILE_BYTES:
            return
        data = fh.read(MAX_FILE_BYTES + 1)
    if b"\x00" in data[:BINARY_PROBE]:
        return
    text = data.decode("utf-8", errors="replace")
    yield from enumerate(text.splitlines(), start=1)


def _search(root: str, files: list[str], match: Matcher
            ) -> tuple[list[tuple[str, int, str]], int]:
    """Matching ``(path, line, text)`` rows and how many of ``files`` were searched.

    The search stops before the file that would take it past ``MAX_SEARCH_BYTES`` read.
    """
    hits: list[tuple[str, int, str]] = []
    budget = MAX_SEARCH_BYTES
    for count, path in enumerate(files):
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        if size <= MAX_FILE_BYTES:
            budget -= size
        if budget < 0:
            return hits, count
        name = rel(root, path)
        hits.extend((name, number, line) for number, line in _lines(root, path) if match(line))
    return hits, len(files)


def _literal(needle: str) -> Matcher:
    folded = needle.casefold()
    return lambda line: folded in line.casefold()


def _singular(word: str) -> str:
    """``snapshots`` -> ``snapshot`` (a substring of both forms); short words stay."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def _all_words(words: list[str]) -> Matcher:
    """Lines holding every one of ``words`` (case-folded), in any order, also inside names.

    ``max redirects`` finds ``DEFAULT_MAX_REDIRECTS = 20``.
    """
    return lambda line: all(w in line.casefold() for w in words)


def _any_word(words: list[str]) -> Matcher:
    folded = [w.casefold() for w in words]

    def match(line: str) -> bool:
        text = line.casefold()  # once per line, not once per word
        return any(w in text for w in folded)

    return match


def _word_count(words: list[str]) -> Rank:
    """How many of ``words`` a line holds (case-folded, also inside names)."""
    folded = list(dict.fromkeys(w.casefold() for w in words))
    return lambda line: sum(w in line.casefold() for w in folded)


def grep(root: str, pattern: str, path: str = ".", max_files: int = MAX_WALK_ENTRIES) -> str:
    """Search files under ``root``/``path`` for ``pattern``; see ``fs.grep`` for the rules."""
    start = search_start(root, path, "pattern", pattern, "a word or text to search for")
    if isinstance(start, ToolPathError):
        return str(start)
    prefix = ""
    if start is None:
        # small models invent paths: search everything rather than send them guessing
        # ... and do not echo the invented path: the model tends to copy it into its answer
        prefix = "(that path does not exist; searched all files instead)\n"
        start = resolve(root, ".")
    files, cut = files_under(root, start, max_files)
    needle = pattern.strip()
    attempts, unsupported = _attempts(needle)
    searched = len(files)
    for index, (match, note, name, rank) in enumerate(attempts):
        hits, searched = _search(root, files, match)
        cut = cut or _budget_note(searched, len(files))
        if hits:
            said = unsupported if index else ""
            tail = f"\n({cut}; narrow the search with path=...)" if cut else ""
            return prefix + said + _format(root, hits, note, name, rank) + tail
    where = rel(root, start)
    counted = f"searched {searched} files" + (f"; {cut}" if cut else "")
    return prefix + unsupported + f"No matches for '{show(needle)}' in '{where}' ({counted})."


def _budget_note(searched: int, files: int) -> str:
    if searched >= files:
        return ""
    return (f"stopped after reading {MAX_SEARCH_BYTES // 1_000_000} MB; "
            f"{files - searched} files were not searched")


def _attempts(needle: str) -> tuple[list[Attempt], str]:
    """The strategies in order (see ``Attempt``) and the unsupported-regex line."""
    attempts: list[Attempt] = [
        (_literal(needle), "", needle if _IDENT.fullmatch(needle) else None, None)
    ]
    regex = _regex_matcher(needle)
    if callable(regex):
        attempts.append(
            (regex, f"No literal matches for '{show(needle)}'; matched it as a regex", None,
             None)
        )
    plain = _PHRASE.fullmatch(needle) is not None
    phrase = list(dict.fromkeys(_singular(w.casefold()) for w in _WORD.findall(needle)
                                if not plain or w.casefold() not in STOP_WORDS))
    if len(phrase) > 1 and plain:
        attempts.append(
            (
                _all_words(phrase),
                f"No matches for '{show(needle)}'; showing lines containing all of its "
                "words: " + ", ".join(phrase[:10]),
                None,
                None,
            )
        )
    idents = sorted(_IDENT.findall(needle), key=len, reverse=True)
    if plain:  # words of a sentence: only a code-shaped name is worth searching alone
        idents = [w for w in idents if _CODE_NAME.search(w)]
    if idents and idents[0] != needle and len(idents[0]) >= 3:
        attempts.append(
            (
                _literal(idents[0]),
                f"No matches for '{show(needle)}'; "
                f"showing matches for its longest identifier '{idents[0]}'",
                idents[0],
                None,
            )
        )
    parts = [p for w in _WORD.findall(needle) for p in [w, *_split_identifier(w)]
             if not plain or w.casefold() not in STOP_WORDS]
    words = list(dict.fromkeys(_singular(w) if plain else w for w in parts
                               if w != needle and len(w) >= 3))
    if words and words != idents[:1]:
        attempts.append(
            (
                _any_word(words),
                f"No matches for '{show(needle)}'; showing lines containing the most of the "
                "words: " + ", ".join(words[:10]),
                None,
                _word_count(words),
            )
        )
    return attempts, (regex + "\n" if isinstance(regex, str) else "")


def _split_identifier(word: str) -> list[str]:
    """``max_upload_size`` -> max, upload, size; ``MaxUploadSize`` -> Max, Upload, Size."""
    pieces = [
        p
        for chunk in word.split("_")
        for p in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", chunk)
    ]
    return pieces if len(pieces) > 1 else []


def _format(root: str, hits: list[tuple[str, int, str]], note: str,
            ident: str | None = None, rank: Rank | None = None) -> str:
    """Rows ``path:LINE: text``; lines defining ``ident`` (if any) come first, announced.

    A ranked search (``rank``) shows the rows holding the most words first. Each row shows
    the rest of an assignment split over lines and its enclosing definition
    (``_grep_context.annotate``).
    """
    file_count = len({name for name, _, _ in hits})
    header = f"{len(hits)} match{'es' if len(hits) != 1 else ''} in {file_count} file"
    header += "s" if file_count != 1 else ""
    if ident:
        header, hits = _roles(hits, ident, header)
    else:  # a phrase: the lines that define something come first
        hits = sorted(hits, key=lambda h: (-rank(h[2]) if rank else 0,
                                           _ANY_DEFINITION.search(h[2][:1000]) is None))
    lines = [note, header + ":"] if note else [header + ":"]
    size = sum(len(x) + 1 for x in lines)
    shown = 0
    files: dict[str, list[str] | None] = {}
    for name, number, text in hits[:MAX_MATCHES]:
        if name not in files:
            files[name] = [line for _, line in _lines(root, os.path.join(root, name))] or None
        row = f"{name}:{number}: {annotate(files[name], number, text, MAX_LINE_CHARS)}"
        if size + len(row) + 1 > MAX_CHARS:
            break
        lines.append(row)
        size += len(row) + 1
        shown += 1
    if shown < len(hits):
        lines.append(
            f"... {len(hits) - shown} more matches not shown; narrow the search: search "
            "more of the task's words at once, or give path=..."
        )
    return "\n".join(lines)


def _roles(hits: list[tuple[str, int, str]], ident: str, header: str
           ) -> tuple[str, list[tuple[str, int, str]]]:
    """Rows defining ``ident`` first, then rows raising it, the header naming both."""
    defines = definition_matcher(ident)
    raises = re.compile(rf"^[^#]*\braise\s+(?:\w+\.)*{re.escape(ident)}\b")  # not in a comment
    first = [h for h in hits if defines(h[2])]
    raised = [h for h in hits if not defines(h[2]) and raises.search(h[2][:1000])]
    if not first and not raised:
        return header, hits
    said = []
    if first:
        files = list(dict.fromkeys(name for name, _, _ in first[:3]))
        said.append(f"defined in {first[0][0]}:{first[0][1]}" if len(files) == 1
                    else "defined in " + ", ".join(files))
    if raised:
        said.append("raised in " + ", ".join(f"{n}:{i}" for n, i, _ in raised[:3]))
    picked = {id(h) for h in first + raised}
    rest = [h for h in hits if id(h) not in picked]
    header = f"'{ident}' is {'; '.join(said)}; the other rows are uses ({header})"
    return header, first + raised + rest


def definitions(root: str, name: str, limit: int = 3,
                max_files: int = MAX_WALK_ENTRIES) -> list[tuple[str, int, str]]:
    """Up to ``limit`` ``(path, line, text)`` lines under ``root`` that define ``name``.

    Only the first ``max_files`` entries of the tree are searched.
    """
    return definitions_searched(root, name, limit, max_files)[0]


def definitions_searched(root: str, name: str, limit: int = 3,
                         max_files: int = MAX_WALK_ENTRIES
                         ) -> tuple[list[tuple[str, int, str]], str]:
    """:func:`definitions`, and ``""`` or the note that the walk stopped at ``max_files``."""
    files, cut = files_under(root, root, max_files)
    hits, searched = _search(root, files, definition_matcher(name))
    return hits[:limit], cut or _budget_note(searched, len(files))


def missing_file_hint(root: str, wanted: str, max_files: int = MAX_WALK_ENTRIES) -> str:
    """For a missing file named like an identifier (``src/StateGraph.py``): where it is defined.

    Small models invent a path from the name they look for; the definition's real file is
    the path they wanted. Empty when the stem is no identifier or nothing defines it (in
    the first ``max_files`` entries of the tree).
    """
    return hint_text(wanted, missing_file_definitions(root, wanted, max_files))


def missing_file_definitions(root: str, wanted: str, max_files: int = MAX_WALK_ENTRIES
                             ) -> list[tuple[str, int, str]]:
    """The ``(path, line, text)`` lines defining the identifier a missing file is named after.

    Empty when the stem is no identifier or nothing defines it (see :func:`missing_file_hint`).
    """
    stem = _stem(wanted)
    if not _IDENT.fullmatch(stem) or len(stem) < 3:
        return []
    return definitions(root, stem, max_files=max_files)


def _stem(wanted: str) -> str:
    return wanted.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]


def hint_text(wanted: str, found: list[tuple[str, int, str]]) -> str:
    """``'X' is defined in a.py:3: class X:`` for the definitions of a missing file's stem."""
    if not found:
        return ""
    stem = _stem(wanted)
    rows = "; ".join(
        f"{path}:{number}: {text.strip()[:MAX_LINE_CHARS]}" for path, number, text in found
    )
    return f"'{stem}' is defined in {rows}"
