"""YAML loading that remembers the line of every key and list item (for error messages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from subagents.errors import SpecError

__all__ = ["Key", "Source", "load_yaml"]

Key = str | int
"""One step of a path into the document: a mapping key or a list index."""


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

    def error(self, path: tuple[Key, ...], message: str) -> SpecError:
        """A ``SpecError`` whose message starts with the location of ``path``."""
        return SpecError(f"{self.at(*path)}: {message}")


def load_yaml(text: str, name: str) -> tuple[Any, Source]:
    """Parse one YAML document safely (``yaml.SafeLoader``) and record its lines.

    Args:
        text: the YAML text.
        name: the name errors start with (usually the path as the user wrote it).

    Returns:
        ``(data, source)``: the plain Python value (``None`` for an empty document) and the
        line map of every mapping key and sequence item.

    Raises:
        SpecError: the text is not valid YAML (the message names the line).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{where}: invalid YAML: {problem}") from exc
    finally:
        loader.dispose()
    lines: dict[tuple[Key, ...], int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _record(node, (), lines, set())
    return data, Source(name, lines)


def _record(node: yaml.Node, path: tuple[Key, ...], lines: dict[tuple[Key, ...], int],
            active: set[int]) -> None:
    if id(node) in active:  # a recursive alias: its lines are recorded already
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            step: Key = str(key.value) if isinstance(key, yaml.ScalarNode) else repr(key.value)
            lines[(*path, step)] = key.start_mark.line + 1
            _record(value, (*path, step), lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record(item, (*path, index), lines, active)
    active.discard(id(node))
