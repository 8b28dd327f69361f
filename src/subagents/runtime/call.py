"""One delegation's call record and the ``configurable`` keys that carry run scopes.

``CallInfo`` is handed to a child run (``configurable[CALL_KEY]``); ``SCOPE_KEY`` holds the
parent's :class:`~subagents.runtime.scope.RunScope`. ``Stopped`` is raised at a node of a run
whose delegation was stopped (a sync timeout, an ancestor cancelled).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from subagents.errors import SubagentsError

__all__ = ["CALL_KEY", "SCOPE_KEY", "CallInfo", "Stopped"]

SCOPE_KEY = "__subagents_scope"
"""``configurable`` key of the enclosing agent invocation's ``RunScope``."""


CALL_KEY = "__subagents_call"
"""``configurable`` key a delegation node sets for the child it invokes (a ``CallInfo``)."""

_serials = itertools.count(1)


class Stopped(SubagentsError):
    """Raised by a node of a sync child whose delegation stopped waiting (``Agent.timeout``).

    The child and its descendants end ``cancelled``; it is never retried. (An exception, not
    ``asyncio.CancelledError``: LangGraph's sync runner turns that into a
    ``NodeCancelledError``.)
    """


@dataclass(slots=True)
class CallInfo:
    """What started a child: the parent's tool call, handed down to the child's run.

    The record flows down only: the child's run scope registers itself in its parent's
    scope under ``(serial, attempt)`` (``RunScope.child``), where the parent looks it up.

    Attributes:
        serial: this delegation's number in the process (kept by ``dataclasses.replace``),
            which tells two delegations with the same ``tool_call_id`` apart.
        attempt: the attempt running now (1 first; more under ``Agent.retry``); each attempt
            opens its own scope (its own usage node).
        errors: the errors of the attempts that failed so far.
        retried: the child has an ``Agent.retry`` policy: its results report ``attempts``
            and ``errors``.
        stopped: set when the delegation stopped waiting for a sync child (its timeout):
            every node of the child and of its descendants then raises
            :class:`Stopped` instead of running (see ``RunScope.stopped``).
    """

    tool_call_id: str
    objective: str
    background: bool = False
    attempt: int = 1
    errors: list[str] = field(default_factory=list)
    retried: bool = False
    stopped: bool = False
    serial: int = field(default_factory=lambda: next(_serials))


