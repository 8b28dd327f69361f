"""``paths_exist``: an ``Agent.answer_check`` for file explorers (no invented paths).

Small models answer with a path they made up (``src/app.py``) even after ``read_file`` said it
does not exist. The check finds file-path-like tokens in the final answer and rejects the
answer when one names no file under the root and never appeared in a successful tool output
or in the task; the correction names the paths the tool results did show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from subagents.errors import SpecError
from subagents.nodes.plan import NUDGE_KEY
from subagents.spec import AnswerCheck
from subagents.tools._grep import definition_matcher, definitions_searched
from subagents.tools._paths import (
    MAX_PATH_CHARS,
    MAX_WALK_ENTRIES,
    ToolPathError,
    real_root,
    resolve,
)

__all__ = ["PATH_EXTENSIONS", "find_paths", "paths_exist"]

PATH_EXTENSIONS = ("py", "js", "ts", "go", "rs", "java", "md", "toml", "yaml", "yml", "json")
"""File extensions whose names the check treats as paths."""

_PATH = re.compile(r"[\w./-]*\w\.(?:" + "|".join(PATH_EXTENSIONS) + r")\b(?![\w/-])")
"""The path-token shape; quadratic as a search on long runs, so :func:`find_paths` finds
its matches in linear time instead (the property suite checks they agree)."""
_RUN = re.compile(r"[\w./-]+")
_DOT_SLASH = re.compile(r"(?:\./)+")
_PATH_END = re.compile(r"(?<=\w)\.(?:" + "|".join(PATH_EXTENSIONS) + r")(?![\w/-])")
MAX_ANSWER_PATHS = 100
"""Path tokens of one answer checked at most (the first ones, duplicates dropped)."""
MAX_CODE_NAMES = 20
"""Code names of the task used to rank suggestions at most."""
_CODE_NAME = re.compile(r"\b(?:[A-Za-z]\w*_\w+|_\w+|[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*)\b")
_ROW = re.compile(r"^[^:\s]+:\d+: ?(.*)$")
"""A grep row ``path:LINE: text``; group 1 is the text."""
MAX_SUGGESTIONS = 3
MAX_LOOKUPS = 2
"""Code names of the task looked up under the root when no tool output showed their
definition."""


def find_paths(text: str) -> list[str]:
    """The path tokens of ``text``: ``_PATH.findall(text)``, in time linear in ``len(text)``.

    Each maximal run of path characters holds at most one token: the run's start up to
    its last ``.ext`` end (the greedy search's match), found by a constant-work scan.
    """
    found: list[str] = []
    for run in _RUN.finditer(text):
        end = None
        for ext in _PATH_END.finditer(run[0]):
            end = ext.end()
        if end is not None:
            found.append(run[0][:end])
    return found


def paths_exist(root: str | Path, max_files: int = MAX_WALK_ENTRIES) -> AnswerCheck:
    """Build an answer check rejecting file paths that exist neither under ``root`` nor above.

    A token of the answer like ``graph/state.py`` (one of ``PATH_EXTENSIONS``; a leading
    ``./`` is dropped) is accepted when it is, or ends a path (``state.py`` for
    ``graph/state.py``) that is, in a successful tool output (not an ``Error: ...`` text, not
    a ToolMessage with status ``error``) or in the task (a human message the runtime did not
    write); otherwise when it names an existing file or folder under ``root``, resolved
    honestly against the root with the file tools' confinement (symlinks followed, nothing
    outside ``root`` accepted; the answer's paths are only looked up, never opened).

    Work is bounded: path tokens are found in linear time, at most ``MAX_ANSWER_PATHS``
    (100) of an answer are checked, at most ``MAX_CODE_NAMES`` (20) task names rank the
    suggestions, and a definition lookup walks at most ``max_files`` entries (the note
    says when it stopped there).

    Args:
        root: the folder the explorer's file tools are confined to.
        max_files: directory entries one definition lookup walks at most.

    Returns:
        ``check(answer, messages) -> None | correction``, for ``Agent(answer_check=...)``.
        The correction reads like "`src/app.py` does not exist under the root (read_file
        said so). Answer only with paths that appear in the tool results above, e.g.
        prebuilt/chat_agent_executor.py." and suggests first the paths on tool-output lines
        that define or name a code name of the task (``create_react_agent``,
        ``StateGraph``); when no output showed its definition, the note says where it is
        defined under the root (the ``grep`` tool's definition search, same confinement).

    Raises:
        SpecError: ``root`` is not an existing directory.

    Example:
        >>> explore = Agent(name="explore", tools=filesystem_tools("."),
        ...                 answer_check=paths_exist("."))
    """
    try:
        base = real_root(root)
    except OSError as exc:
        raise SpecError(f"answer check root '{root}' is not an existing directory") from exc

    def check(answer: str, messages: list[BaseMessage]) -> str | None:
        tokens = list(dict.fromkeys(_strip(t) for t in find_paths(answer)))
        if not tokens:
            return None
        seen, task, failed = _read(messages)
        known = _tails([*seen, *task])
        bad = [t for t in tokens[:MAX_ANSWER_PATHS] if t not in known
               and _where(base, t) != ""]
        if not bad:
            return None
        problems = [f"`{t}` {_where(base, t)}" + _said(t, failed) for t in bad[:3]]
        hints, defined, missed = _suggest(base, seen, messages, answer, max_files)
        found = "".join(f" `{name}` is defined in {where}." for name, where in defined)
        found += missed
        advice = (" Answer only with paths that appear in the tool results above"
                  + (" or in this note" if defined else "")
                  + (f", e.g. {', '.join(hints)}." if hints else
                     "; find the right path with grep or list_files first."))
        return "; ".join(problems) + "." + found + advice

    return check


def _strip(token: str) -> str:
    """``token`` without its leading ``./`` runs (linear: one regex match, one slice)."""
    lead = _DOT_SLASH.match(token)
    return token[lead.end():] if lead else token


def _where(base: str, token: str) -> str:
    """"" when ``token`` exists under ``base``, else what is wrong with it."""
    try:
        real = resolve(base, token)
    except ToolPathError:
        return "is outside the root"
    return "" if os.path.exists(real) else "does not exist under the root"


def _tails(paths: Iterable[str]) -> set[str]:
    """Each path and every tail of it after a ``/`` (``a/b.py``: ``a/b.py``, ``b.py``).

    Tails of paths over ``MAX_PATH_CHARS`` are left out (no real path is that long), so the
    set stays linear in the text it came from.
    """
    tails: set[str] = set()
    for path in paths:
        tails.add(path)
        if len(path) <= MAX_PATH_CHARS:
            tails.update(path[i + 1:] for i, char in enumerate(path) if char == "/")
    return tails


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def _read(messages: Sequence[BaseMessage]) -> tuple[dict[str, None], set[str], dict[str, str]]:
    """Paths in successful tool outputs (in order), in the task, and tool names of errors."""
    seen: dict[str, None] = {}
    task: set[str] = set()
    failed: dict[str, str] = {}
    for msg in messages:
        if isinstance(msg, ToolMessage):
            text = _text(msg)
            ok = msg.status != "error" and not text.lstrip().startswith("Error")
            for token in find_paths(text):
                if ok:
                    seen.setdefault(_strip(token), None)
                else:
                    failed.setdefault(_strip(token), msg.name or "a tool")
        elif isinstance(msg, HumanMessage) and not msg.additional_kwargs.get(NUDGE_KEY):
            task.update(_strip(t) for t in find_paths(_text(msg)))
    return seen, task, failed


def _said(token: str, failed: dict[str, str]) -> str:
    tool = failed.get(token)
    return f" ({tool} said so)" if tool else ""


def _suggest(base: str, seen: dict[str, None], messages: Sequence[BaseMessage],
             answer: str, max_files: int
             ) -> tuple[list[str], list[tuple[str, str]], str]:
    """Paths to suggest, and where the task's identifiers are defined if no output showed it.

    Seen paths on tool-output lines defining a code name of the task (``create_react_agent``,
    ``StateGraph``) come first, then those on lines naming one, then the other seen paths.
    When no seen line defines one, up to ``MAX_LOOKUPS`` names are looked up under the root
    (the ``grep`` tool's definition search, confined the same way) and their files lead.
    """
    task = next((_text(m) for m in reversed(messages) if isinstance(m, HumanMessage)
                 and not m.additional_kwargs.get(NUDGE_KEY)), "")
    names = sorted(set(_CODE_NAME.findall(task)) or set(_CODE_NAME.findall(answer)))
    names = names[:MAX_CODE_NAMES]
    defines: dict[str, None] = {}
    mentions: dict[str, None] = {}
    if names and seen:
        matchers = [definition_matcher(n) for n in names]
        for msg in messages:
            if not isinstance(msg, ToolMessage) or msg.status == "error":
                continue
            for line in _text(msg).splitlines():
                if not any(n in line for n in names):
                    continue
                row = _ROW.match(line)
                into = defines if row and any(m(row[1]) for m in matchers) else mentions
                for token in find_paths(line):
                    into.setdefault(_strip(token), None)
    defined: list[tuple[str, str]] = []
    missed: list[str] = []
    looked: dict[str, None] = {}
    if not any(p in seen for p in defines):
        for name in names[:MAX_LOOKUPS]:
            rows, cut = definitions_searched(base, name, 2, max_files)
            if rows:
                defined.append((name, ", ".join(f"{path}:{line}" for path, line, _ in rows)))
                looked.update(dict.fromkeys(path for path, _, _ in rows))
            elif cut:
                missed.append(f" Looking up `{name}` {cut}.")
    ranked = dict.fromkeys([*looked, *(p for p in [*defines, *mentions] if p in seen), *seen])
    return list(ranked)[:MAX_SUGGESTIONS], defined, "".join(missed)
