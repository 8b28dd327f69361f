"""YAML loading that remembers the line of every key and list item (for error messages).

Team files are bounded before anything walks them (see ``subagents.teams.limits``): the
byte size, the nesting depth and the number of nodes once every alias is expanded. Aliases
that contain themselves and duplicate mapping keys are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from subagents.errors import TeamFileError

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_TEAM_BYTES", "Key", "Source", "check_plain",
           "decode_team", "load_yaml"]

MAX_TEAM_BYTES = 1024 * 1024
"""Largest team file in bytes (1 MiB; a team of a hundred agents is a few KiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in a team."""
MAX_NODES = 20_000
"""Most values (scalars, mappings, lists) in a team, counting each alias as the whole value
it repeats: a few hundred bytes of nested aliases can stand for billions of values."""

Key = str | int
"""One step of a path into the document: a mapping key or a list index."""

_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Source:
    """Where a team came from, and the 1-based line of each path into it.

    Attributes:
        name: the file name as given (``team.yaml``), or ``<mapping>`` for in-memory teams.
        lines: path (``("agents", 1, "tools", 0)``) -> 1-based line of that key or item.
    """

    name: str
    lines: Mapping[tuple[Key, ...], int] = field(default_factory=dict)

    def line(self, *path: Key) -> int | None:
        """Line of ``path``, else of its longest known prefix, else None."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def at(self, *path: Key) -> str:
        """``name:LINE`` for ``path`` (just ``name`` when the line is unknown)."""
        line = self.line(*path)
        return self.name if line is None else f"{self.name}:{line}"

    def error(self, path: tuple[Key, ...], message: str) -> TeamFileError:
        """A ``TeamFileError`` at the line of ``path`` (its message starts ``FILE:LINE:``)."""
        return TeamFileError(self.name, self.line(*path), message)


def decode_team(data: bytes, name: str) -> str:
    """Check a team file's bytes (size, NUL bytes, UTF-8) and decode them.

    Raises:
        TeamFileError: larger than ``MAX_TEAM_BYTES``, a NUL byte or invalid UTF-8 (the
            line of the first bad byte).
    """
    if len(data) > MAX_TEAM_BYTES:
        raise TeamFileError(name, None, f"the file is larger than {MAX_TEAM_BYTES} bytes, "
                            "the limit of a team file")
    nul = data.find(b"\0")
    if nul >= 0:
        raise TeamFileError(name, data.count(b"\n", 0, nul) + 1,
                            "a NUL byte: a team file is UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TeamFileError(name, data.count(b"\n", 0, exc.start) + 1,
                            f"not UTF-8 text (byte {data[exc.start]:#04x})") from None


def load_yaml(text: str, name: str) -> tuple[Any, Source]:
    """Parse one YAML document safely (``yaml.SafeLoader``, bounded) and record its lines.

    Args:
        text: the YAML text.
        name: the name errors start with (usually the path as the user wrote it).

    Returns:
        ``(data, source)``: the plain Python value (``None`` for an empty document) and the
        line map of every mapping key and sequence item.

    Raises:
        TeamFileError: the text is not valid YAML, nests deeper than ``MAX_DEPTH``, expands
            to more than ``MAX_NODES`` values, has an alias inside its own anchor or a
            duplicate key (the message names the line).
    """
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, name)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise TeamFileError(name, line, f"invalid YAML: {exc.reason} "
                            f"(character {exc.character!r})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise TeamFileError(name, None if mark is None else mark.line + 1,
                            f"invalid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[tuple[Key, ...], int] = {(): 1}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _record(node, (), lines)
    return data, Source(name, lines)


def check_plain(data: Any, name: str) -> None:
    """Bound an in-memory team like a file: depth, expanded size and no cycles.

    Raises:
        TeamFileError: a value contains itself, nests deeper than ``MAX_DEPTH`` or has more
            than ``MAX_NODES`` values.
    """
    count = 0

    def walk(value: Any, depth: int, active: set[int]) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise TeamFileError(name, None, f"more than {MAX_NODES} values (the limit)")
        if not isinstance(value, Mapping | list | tuple):
            return
        if depth > MAX_DEPTH:
            raise TeamFileError(name, None, f"nested deeper than {MAX_DEPTH} levels")
        if id(value) in active:
            raise TeamFileError(name, None, "a value contains itself")
        active.add(id(value))
        items = [*value.keys(), *value.values()] if isinstance(value, Mapping) else value
        for item in items:
            walk(item, depth + 1, active)
        active.discard(id(value))

    walk(data, 0, set())


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that enforces the limits while it composes (before values exist).

    ``MAX_DEPTH``, ``MAX_NODES`` (aliases expanded), no recursive aliases, no duplicate keys.
    """

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self._name = name
        self._depth = 0
        self._total = 0
        self._sizes: dict[int, int] = {}

    def _fail(self, mark: Any, message: str) -> TeamFileError:
        return TeamFileError(self._name, mark.line + 1, message)

    def _grow(self, size: int, mark: Any) -> None:
        self._total += size
        if self._total > MAX_NODES:
            raise self._fail(mark, f"the document expands to more than {MAX_NODES} values "
                             "(aliases count as the values they repeat)")

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner keeps one possible simple key per open '[' / '{' and scans them all for
        # every token: bound the open ones here, before the composer sees any of them.
        if self.flow_level >= MAX_DEPTH:
            raise self._fail(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise self._fail(event.start_mark, f"alias *{event.anchor} is inside its own "
                                 "anchor (a recursive value)")
            self._grow(self._sizes.get(id(target), 1), event.start_mark)
            return super().compose_node(parent, index)
        self._grow(1, event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._fail(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        try:
            node: Any = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in _children(node))
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                raise self._fail(key.start_mark, f"duplicate key {key.value!r} (first at line "
                                 f"{first.start_mark.line + 1})")
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _record(node: yaml.Node, path: tuple[Key, ...], lines: dict[tuple[Key, ...], int]) -> None:
    # Bounded: the composer refused documents deeper than MAX_DEPTH, larger than MAX_NODES
    # once expanded, or with recursive aliases.
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            line = key.start_mark.line + 1
            step: Key = str(key.value) if isinstance(key, yaml.ScalarNode) else f"<key {line}>"
            lines[(*path, step)] = line
            _record(value, (*path, step), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record(item, (*path, index), lines)
