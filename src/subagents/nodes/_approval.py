"""Human approval of tool calls and delegations: the request, and reading the answer.

An agent's ``needs_approval`` names tools (its own, its delegation tools ``task`` /
``task_<name>``, its lifecycle tools) whose every call first pauses the run with LangGraph's
``interrupt()``. The resume value decides (:func:`approval_decision`); only an explicit
approval runs the call:

- approve: ``True``; a string in :data:`APPROVE_WORDS` (case and surrounding blanks
  ignored); ``{"approved": True}``; ``{"action": "approve"}``.
- edit (delegations only): ``{"action": "edit", "objective": "..."}`` or
  ``{"action": "edit", "args": {...}}``: the call runs with those arguments replaced.
- reject: ``False``, ``None``, a string in :data:`REJECT_WORDS`, ``{"approved": False}``,
  ``{"action": "reject"}``; each dict form may carry ``"reason"`` (or ``"message"``), which
  the model reads.
- anything else (``"false"``, ``{"approved": "no"}``, ``1``, a free text) is not understood
  and rejects, with a reason saying so (a free text is quoted in it).

The interrupt's value (what the human sees): for a tool ``{"type": "approval", "kind":
"tool", "path": <the agent's ancestry path>, "agent", "tool", "args", "tool_call_id"}``; for
a delegation ``{"type": "approval", "kind": "delegation", "path": <the sub-agent's ancestry
path>, "agent": <the sub-agent>, "objective", "background", "tool", "args",
"tool_call_id"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import ToolCall
from langgraph.types import interrupt

__all__ = ["APPROVE_WORDS", "REJECT_WORDS", "Approval", "approval_decision", "approve_delegation",
           "approve_tool", "ask_approval"]

APPROVE_WORDS = frozenset({"approve", "approved", "yes", "ok"})
"""Strings that approve (compared lower-cased, stripped)."""
REJECT_WORDS = frozenset({"reject", "rejected", "no", "deny", "denied"})
"""Strings that reject without a reason."""
_HOW = ("answer true, 'approve', {'approved': true}, {'action': 'approve'} or "
        "{'action': 'edit', 'objective': ...} to approve")


@dataclass(frozen=True, slots=True)
class Approval:
    """A human's decision on one call.

    Attributes:
        approved: run the call.
        reason: why it was rejected (empty when approved or no reason was given).
        edits: argument replacements of an approved edit (empty: run as asked).
    """

    approved: bool
    reason: str = ""
    edits: dict[str, Any] = field(default_factory=dict)


def _not_understood(value: Any) -> Approval:
    shown = repr(value)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return Approval(False, f"the approval answer {shown} was not understood ({_HOW}); "
                    "not approved")


def _from_dict(value: Mapping[Any, Any]) -> Approval:
    reason = value.get("reason") or value.get("message") or ""
    reason = reason if isinstance(reason, str) else repr(reason)
    action, approved = value.get("action"), value.get("approved", None)
    if "action" not in value and approved is True:  # an explicit "action": None is no form
        return Approval(True)
    if "action" not in value and approved is False:
        return Approval(False, reason)
    if "approved" in value or not isinstance(action, str):
        return _not_understood(value)
    action = action.strip().lower()
    if action in ("approve", "approved"):
        return Approval(True)
    if action in ("reject", "rejected"):
        return Approval(False, reason)
    if action == "edit":
        edits = value.get("args", {})
        if "objective" in value:
            edits = {**edits, "objective": value["objective"]} if isinstance(edits, dict) \
                else edits
        if isinstance(edits, dict) and edits and all(isinstance(k, str) for k in edits) and (
                isinstance(edits.get("objective", ""), str)):
            return Approval(True, edits=dict(edits))
    return _not_understood(value)


def approval_decision(value: Any) -> Approval:
    """Read an approval resume value (see the module docstring for the accepted forms).

    Args:
        value: what the human resumed the run with (``Command(resume=value)``).

    Returns:
        The decision. Only the documented approve and edit forms approve; everything else
        rejects, with the given reason, or one saying the answer was not understood.
    """
    if value is True:
        return Approval(True)
    if value is False or value is None:
        return Approval(False)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in APPROVE_WORDS:
            return Approval(True)
        if word in REJECT_WORDS:
            return Approval(False)
        return _not_understood(value)
    if isinstance(value, Mapping):
        return _from_dict(value)
    return _not_understood(value)


def ask_approval(request: dict[str, Any], tc: ToolCall, *, editable: bool) -> ToolCall | str:
    """Pause the run for a human (``interrupt(request)``); the call to run, or why not.

    Args:
        request: the interrupt's value (``{"type": "approval", ...}``), shown to the human.
        tc: the tool call waiting.
        editable: whether edits are accepted (delegations); elsewhere an edit rejects.

    Returns:
        ``tc`` (approved), a copy with the edited arguments, or the rejection text the model
        reads ("Rejected by a human: ... Reason: ...").

    Raises:
        GraphInterrupt: the run pauses here until it is resumed (LangGraph's ``interrupt``).
    """
    decision = approval_decision(interrupt(request))
    reason = decision.reason
    if decision.approved and decision.edits and not editable:
        reason = "edits apply to delegations only; resume with an approval or a rejection"
    elif decision.approved:
        return {**tc, "args": {**tc["args"], **decision.edits}} if decision.edits else tc
    return f"Rejected by a human: the call to '{tc['name']}' was not run." + (
        f" Reason: {reason}" if reason else "")


def approve_tool(path: tuple[str, ...], tc: ToolCall) -> str | None:
    """Ask a human to approve one call of the agent's own or lifecycle tool.

    Args:
        path: the calling agent's ancestry path (its name last).
        tc: the tool call.

    Returns:
        None to run the call as asked, or the rejection text the model reads (an edit
        rejects: edits apply to delegations only).

    Raises:
        GraphInterrupt: the run pauses here until it is resumed.
    """
    request = {"type": "approval", "kind": "tool", "path": list(path), "agent": path[-1],
               "tool": tc["name"], "args": tc["args"], "tool_call_id": tc["id"]}
    answer = ask_approval(request, tc, editable=False)
    return answer if isinstance(answer, str) else None


_FIXED = ("agent", "background")
"""Delegation arguments an edit may not change (the node runs one child, in one mode)."""


def _fixed(args: dict[str, Any], key: str) -> Any:
    """An argument an edit may not change, as the runtime reads it.

    An absent ``background`` is ``false``, the value the approval request shows.
    """
    value = args.get(key)
    return value is True if key == "background" else value


def approve_delegation(path: tuple[str, ...], tc: ToolCall, objective: str,
                       background: bool) -> ToolCall | str:
    """Ask a human to approve one delegation before its child runs.

    Args:
        path: the sub-agent's ancestry path (its name last).
        tc: the delegation tool call (``task`` or ``task_<name>``).
        objective: the task message the child would get.
        background: whether it is a background call.

    Returns:
        The call to run (with the human's edits) or the rejection text.

    Raises:
        GraphInterrupt: the run pauses here until it is resumed.
    """
    request = {"type": "approval", "kind": "delegation", "path": list(path),
               "agent": path[-1], "objective": objective, "background": background,
               "tool": tc["name"], "args": tc["args"], "tool_call_id": tc["id"]}
    answer = ask_approval(request, tc, editable=True)
    if isinstance(answer, str) or answer is tc:
        return answer
    changed = [k for k in _FIXED if _fixed(answer["args"], k) != _fixed(tc["args"], k)]
    if changed:
        return (f"Rejected by a human: the call to '{tc['name']}' was not run. Reason: an "
                f"edit may not change {', '.join(changed)}")
    return answer
