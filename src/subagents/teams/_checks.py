"""Checks and conversions of the team-file fields that hold settings mappings.

``budget``, ``background``, ``remote``, ``needs_approval``, ``max_files`` and the
``prompt``/``system_prompt`` pair: each problem is reported through ``fail(path, message)``
with the path below the agent's entry, so the loader can give it a line number.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from subagents.errors import TeamFileError
from subagents.spec import RemoteSpec
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget
from subagents.teams._file import BackgroundEntry, RemoteEntry
from subagents.teams._located import Key

__all__ = ["check_entry_extras", "check_max_files", "settings_model"]

Fail = Callable[[tuple[Key, ...], str], TeamFileError]
"""``fail(path_below_the_entry, message) -> TeamFileError`` (the caller raises it)."""

_PYTHON_ONLY = {
    ("background", "deliver"): "'deliver' is a Python object (a Webhook or a handler): set "
    "it in Python, Agent(background=BackgroundConfig(deliver=..., dispatcher=...))",
    ("background", "dispatcher"): "'dispatcher' is a Python object (a started Dispatcher): "
    "set it in Python, Agent(background=BackgroundConfig(deliver=..., dispatcher=...))",
    ("remote", "api_key"): "'api_key' is not read from a team file: set LANGGRAPH_API_KEY "
    "(or LANGSMITH_API_KEY) in the environment",
}
_SETTINGS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "budget": (Budget, Budget),
    "background": (BackgroundEntry, BackgroundConfig),
    "remote": (RemoteEntry, RemoteSpec),
}
"""Field -> (the team-file model naming its keys, the model the loader builds)."""


def check_entry_extras(entry: Mapping[str, Any], fail: Fail) -> None:
    """Check an agent entry's settings fields (shapes and keys; values: ``settings_model``).

    Raises:
        TeamFileError: from ``fail``, at the field or key at fault.
    """
    if "prompt" in entry and "system_prompt" in entry:
        raise fail(("system_prompt",), "give 'prompt' or 'system_prompt' (the same field), "
                   "not both")
    approvals = entry.get("needs_approval", [])
    if not isinstance(approvals, list) or not all(isinstance(v, str) for v in approvals):
        raise fail(("needs_approval",), "field 'needs_approval' must be a list of tool names "
                   "(its own tools, 'task' / 'task_<name>', lifecycle tools)")
    if "max_files" in entry:
        check_max_files(entry["max_files"], lambda message: fail(("max_files",), message))
    for field, (described, _) in _SETTINGS.items():
        value = entry.get(field)
        if value is None or (field == "background" and isinstance(value, bool)):
            continue
        if not isinstance(value, Mapping):
            shape = "true, false or a mapping" if field == "background" else "a mapping"
            raise fail((field,), f"field {field!r} must be {shape} of "
                       f"{', '.join(described.model_fields)}")
        for key in value:
            _check_key(field, key, described, fail)


def _check_key(field: str, key: Any, described: type[BaseModel], fail: Fail) -> None:
    valid = list(described.model_fields)
    if key in valid:
        return
    where = (field, str(key))
    if (field, key) in _PYTHON_ONLY:
        raise fail(where, f"field {field!r}: {_PYTHON_ONLY[field, key]}")
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise fail(where, f"field {field!r}: unknown key {key!r} (valid: {', '.join(valid)}){hint}")


def check_max_files(value: Any, fail: Callable[[str], TeamFileError]) -> None:
    """Check a ``max_files`` value: an integer >= 1 (not a bool, not converted).

    Raises:
        TeamFileError: from ``fail``.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(f"field 'max_files' must be an integer >= 1 (directory entries walked per "
                   f"call), got {type(value).__name__} {_short(value)}")


def settings_model(field: str, value: Mapping[str, Any], fail: Fail) -> BaseModel:
    """Build the ``Budget``, ``BackgroundConfig`` or ``RemoteSpec`` of a checked mapping.

    Raises:
        TeamFileError: from ``fail``, at the key whose value is invalid.
    """
    model = _SETTINGS[field][1]
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
        message = str(error["msg"]).removeprefix("Value error, ")
        key = ".".join(map(str, loc))
        got = f" (got {_short(error['input'])})" if loc else ""
        text = f"field {field!r}: {key}: {message}{got}" if key else f"field {field!r}: {message}"
        raise fail((field, *loc), text) from None


def _short(value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return f"a {type(value).__name__}"
