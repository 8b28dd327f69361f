"""The names an agent and its tools may take (validators of ``Agent``'s name fields)."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["RESERVED_NAMES", "RUNTIME_TOOLS", "agent_name", "tool_name", "tool_names"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESERVED_NAMES = frozenset(
    {"model", "tools", "lifecycle", "final_answer", "task", "__start__", "__end__"}
)
"""Names no agent may take: they are node or tool names of every agent graph."""
RUNTIME_TOOLS = frozenset({"task", "final_answer", "agent_status", "agent_cancel", "agent_await",
                           "agent_message"})
"""Tool names the runtime binds on agents: no ``tool_name`` may take them."""


def agent_name(value: str) -> str:
    """``Agent.name``: letters, digits, ``_`` or ``-`` (max 64), not a reserved name.

    Raises:
        ValueError: the name is invalid or reserved.
    """
    if not _NAME.fullmatch(value):
        msg = f"invalid agent name {value!r}: use letters, digits, '_' or '-' (max 64)"
        raise ValueError(msg)
    if value in RESERVED_NAMES:
        msg = f"agent name {value!r} is reserved ({', '.join(sorted(RESERVED_NAMES))})"
        raise ValueError(msg)
    return value


def tool_name(value: str | None) -> str | None:
    """``Agent.tool_name``: a valid tool name that is not one the runtime binds (or None).

    Raises:
        ValueError: the name is invalid or one of :data:`RUNTIME_TOOLS`.
    """
    if value is not None and not _TOOL_NAME.fullmatch(value):
        msg = f"invalid tool name {value!r}: use letters, digits, '_' or '-' (max 64)"
        raise ValueError(msg)
    if value in RUNTIME_TOOLS:
        msg = (f"tool name {value!r} is a tool the runtime binds "
               f"({', '.join(sorted(RUNTIME_TOOLS))})")
        raise ValueError(msg)
    return value


def tool_names(agent: str, names: Sequence[str]) -> None:
    """The names of agent ``agent``'s own tools: unique, none reserved for the runtime.

    Raises:
        ValueError: a name repeats, is reserved, or starts with ``task_`` or ``agent_``.
    """
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        msg = f"agent {agent!r}: field 'tools': duplicate tool names {sorted(dup)}"
        raise ValueError(msg)
    clash = [n for n in names if n in RESERVED_NAMES or n.startswith(("task_", "agent_"))]
    if clash:
        msg = f"agent {agent!r}: field 'tools': reserved tool names {clash}"
        raise ValueError(msg)
