"""Calls answered without being run: their tool results and their refusal records.

A call naming a delegation tool (``task``, ``task_<name>``, a renamed per-agent tool) gets the
typed ``tool_result`` JSON (status ``failed`` when it is merely not run) and, made in the same
place (:func:`refuse`), a :class:`Refusal`, which the node that answered it emits as a
``subagent_start`` / ``subagent_end(refused=True)`` pair. Any other call gets a short error
text (LangChain's convention for tool errors). Pure functions: no model call, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage

from subagents.nodes._turn import call_key
from subagents.nodes.plan import AgentPlan, ChildLink
from subagents.results import Status, tool_result

__all__ = [
    "BESIDE_FINAL",
    "REPEATED",
    "Refusal",
    "addressed",
    "delegates",
    "duplicate",
    "duplicates",
    "not_run",
    "refuse",
]

Why = tuple[str, str]
"""Why calls are not run: (text for other tools, ``error`` of a delegation's typed result)."""
REPEATED: Why = ("Not run: repeated call.",
                 "not run: this reply repeats an earlier identical tool call")
BESIDE_FINAL: Why = ("Not run: final_answer ends the task.", "not run: final_answer ends the task")


def duplicate(first_id: str) -> Why:
    """Why a call identical to the call ``first_id`` of the same reply is not run."""
    return (f"Not run: duplicate of call {first_id} in this reply.",
            f"not run: duplicate of call {first_id} in this reply")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A delegation call answered by the runtime itself: no child ran.

    Attributes:
        path: the addressed child's ancestry path: the caller's path plus the agent the call
            names (the tool name when it names none).
        tool_call_id: the refused call's id.
        objective: its ``objective`` argument ("" when it has none, or not as a string).
        background: it asked for a background run.
        status: the status of its tool result (``unknown_agent``, ``failed``, ...).
        error: the error of its tool result.
    """

    path: tuple[str, ...]
    tool_call_id: str
    objective: str
    background: bool
    status: Status
    error: str | None

    @classmethod
    def of(cls, path: tuple[str, ...], tool_call_id: str, args: Any, status: Status,
           error: str | None) -> Refusal:
        """The refusal of a call with arguments ``args`` (any value) at ``path``."""
        if not isinstance(args, dict):
            args = {}
        objective = args.get("objective")
        return cls(path=path, tool_call_id=tool_call_id,
                   objective=objective if isinstance(objective, str) else "",
                   background=args.get("background") is True, status=status, error=error)


def delegates(name: str, delegation: Mapping[str, ChildLink | None]) -> bool:
    """Whether a tool name addresses a sub-agent: ``task``, ``task_<x>``, a renamed tool."""
    return name in delegation or name == "task" or name.startswith("task_")


def addressed(name: str, args: Any, delegation: Mapping[str, ChildLink | None]) -> str:
    """The agent a delegation call names ("" when ``task`` names none)."""
    link = delegation.get(name)
    if link is not None:
        return link.agent.name
    if name == "task":
        return str(args.get("agent", "")) if isinstance(args, dict) else ""
    return name.removeprefix("task_")


def refuse(plan: AgentPlan, name: str, tool_call_id: str, args: Any, status: Status,
           error: str, delegation: Mapping[str, ChildLink | None]) -> tuple[ToolMessage, Refusal]:
    """Refuse one delegation call: its typed tool result and its refusal record.

    Args:
        plan: the calling agent's plan (its path is the record's path prefix).
        name: the call's tool name (``task``, ``task_<x>``, a renamed per-agent tool).
        tool_call_id: the call's id.
        args: its arguments (any value; None for arguments that did not parse).
        status: the result's status (``failed``, ``unknown_agent``, ``over_budget``, ...).
        error: why, the result's ``error``.
        delegation: the plan's delegation tools (``AgentPlan.delegation_tools``).

    Returns:
        (the ``ToolMessage`` answering the call, the ``Refusal`` to emit), with the addressed
        agent's name (the tool name when the call names none) in both.
    """
    agent = addressed(name, args, delegation)
    msg = tool_result(status, agent, tool_call_id=tool_call_id, tool_name=name, error=error)
    return msg, Refusal.of((*plan.path, agent or name), tool_call_id, args, status, error)


def not_run(plan: AgentPlan, calls: Sequence[ToolCall], why: Why,
            status: Status = Status.FAILED) -> tuple[list[ToolMessage], list[Refusal]]:
    """Answer calls that are not run: a delegation a typed ``status``, any other the text.

    Returns:
        (a ``ToolMessage`` per call, in order; the ``Refusal`` of each delegation call).
    """
    delegation = plan.delegation_tools if calls else {}
    out: list[ToolMessage] = []
    refused: list[Refusal] = []
    for tc in calls:
        name, tid = tc["name"], tc["id"] or ""
        if delegates(name, delegation):
            msg, refusal = refuse(plan, name, tid, tc["args"], status, why[1], delegation)
            out.append(msg)
            refused.append(refusal)
        else:
            out.append(ToolMessage(content=why[0], tool_call_id=tid, name=name, status="error"))
    return out, refused


def duplicates(calls: Sequence[ToolCall]) -> dict[int, str]:
    """Calls identical to an earlier call of the same reply (see ``call_key``).

    Returns:
        index of each such call -> the id of the first identical call. Keys are only
        computed for calls whose name occurs twice or more (usually none: ``{}`` at once).
    """
    if len(calls) < 2:
        return {}
    seen: set[str] = set()
    twice: set[str] = set()
    for tc in calls:
        (twice if tc["name"] in seen else seen).add(tc["name"])
    if not twice:
        return {}
    first: dict[tuple[str, str], str] = {}
    out: dict[int, str] = {}
    for i, tc in enumerate(calls):
        if tc["name"] in twice:
            key = call_key(tc["name"], tc["args"])
            if key in first:
                out[i] = first[key]
            else:
                first[key] = tc["id"] or ""
    return out
