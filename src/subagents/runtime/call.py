"""One delegation's call record and the ``configurable`` keys that carry run scopes.

``CallInfo`` is handed to a child run (``configurable[CALL_KEY]``); ``SCOPE_KEY`` holds the
parent's :class:`~subagents.runtime.scope.RunScope`. ``Stopped`` is raised at a node of a run
whose delegation was stopped (a sync timeout, an ancestor cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from subagents.errors import SubagentsError

if TYPE_CHECKING:  # a type only: the scope module imports this one
    from subagents.runtime.scope import RunScope

__all__ = ["CALL_KEY", "SCOPE_KEY", "CallInfo", "Stopped"]

SCOPE_KEY = "__subagents_scope"
"""``configurable`` key of the enclosing agent invocation's ``RunScope``."""


CALL_KEY = "__subagents_call"
"""``configurable`` key a delegation node sets for the child it invokes (a ``CallInfo``)."""


class Stopped(SubagentsError):
    """Raised by a node of a sync child whose delegation stopped waiting (``Agent.timeout``).

    The child and its descendants end ``cancelled``; it is never retried. (An exception, not
    ``asyncio.CancelledError``: LangGraph's sync runner turns that into a
    ``NodeCancelledError``.)
    """


@dataclass(slots=True)
class CallInfo:
    """What started a child: the parent's tool call; ``scope`` is set when the child opens.

    Attributes:
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
    scope: RunScope | None = None
    attempt: int = 1
    errors: list[str] = field(default_factory=list)
    retried: bool = False
    stopped: bool = False


