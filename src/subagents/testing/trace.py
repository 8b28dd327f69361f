"""Transition traces of a run, normalised for snapshot tests (syrupy).

A trace is the ordered list of ``(ancestry path, node, short update)`` steps that
``stream(..., stream_mode="updates", subgraphs=True)`` reports, with tool-call ids replaced by
``id0, id1, ...`` in order of first appearance, so the same scripted run gives the same trace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

__all__ = ["ancestry_path", "normalise_trace", "transition_trace"]


def ancestry_path(root: str, namespace: tuple[str, ...]) -> tuple[str, ...]:
    """Ancestry path of the agent that emitted an update.

    Delegation nodes are named after the child's path below the root (``explore/search``),
    so the innermost namespace segment ``explore/search:<task_id>`` gives the whole path.
    """
    if not namespace:
        return (root,)
    return (root, *namespace[-1].split(":", 1)[0].split("/"))


def _short(msg: BaseMessage) -> str:
    if isinstance(msg, AIMessage) and msg.tool_calls:
        calls = ", ".join(f"{tc['name']}({json.dumps(tc['args'], sort_keys=True)})"
                          for tc in msg.tool_calls)
        return f"ai -> {calls}"
    if isinstance(msg, ToolMessage):
        return f"tool[{msg.tool_call_id}] {msg.content}"
    return f"{msg.type}: {msg.content}"


def transition_trace(graph: Any, inputs: Any, config: RunnableConfig | None = None) -> list[str]:
    """Run ``graph`` synchronously and return its normalised transition trace."""
    root = str(graph.get_name())
    steps: list[tuple[tuple[str, ...], str, str]] = []
    for namespace, update in graph.stream(inputs, config, stream_mode="updates", subgraphs=True):
        for node, value in update.items():
            messages = (value or {}).get("messages", []) if isinstance(value, dict) else []
            text = "; ".join(_short(m) for m in messages) or json.dumps(sorted(value or {}))
            steps.append((ancestry_path(root, namespace), node, text))
    return normalise_trace(steps)


def normalise_trace(steps: Iterable[tuple[tuple[str, ...], str, str]]) -> list[str]:
    """Render steps as ``"dev > explore | model | ai -> ..."`` with stable tool-call ids."""
    ids: dict[str, str] = {}
    out = []
    for path, node, text in steps:
        line = f"{' > '.join(path)} | {node} | {text}"
        for word in _call_ids(line):
            ids.setdefault(word, f"id{len(ids)}")
            line = line.replace(word, ids[word])
        out.append(line)
    return out


def _call_ids(line: str) -> list[str]:
    return re.findall(r"call_[0-9a-zA-Z]+", line)
