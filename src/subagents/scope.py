"""``RunScope``: the live record of one agent invocation.

Every invocation of an agent graph (the root, each delegation, each background child) opens a
scope that holds its usage node, its budget tracker and its background children. Scopes reach
nodes through ``config["configurable"][SCOPE_KEY]``; a child's scope links to its parent's,
so usage sums up the tree and budgets are drawn from every ancestor.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from subagents.background import BackgroundConfig, BackgroundTable
from subagents.budget import Budget, BudgetTracker
from subagents.results import Status
from subagents.usage import UsageNode

__all__ = ["CALL_KEY", "SCOPE_KEY", "CallInfo", "RunScope", "observe", "scope_of"]

SCOPE_KEY = "__subagents_scope"
"""``configurable`` key of the enclosing agent invocation's ``RunScope``."""
CALL_KEY = "__subagents_call"
"""``configurable`` key a delegation node sets for the child it invokes (a ``CallInfo``)."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What started a child: the parent's tool call."""

    tool_call_id: str
    objective: str
    background: bool = False


class RunScope:
    """One agent invocation: usage, budget, background children (see module docstring)."""

    def __init__(self, *, agent: str, path: tuple[str, ...], parent: RunScope | None,
                 call: CallInfo | None, budget: Budget | None,
                 background: BackgroundConfig | None) -> None:
        self.id = uuid.uuid4().hex
        self.parent = parent
        self.usage = UsageNode(agent=agent, path=path,
                               tool_call_id=call.tool_call_id if call else None,
                               objective=call.objective[:200] if call else None,
                               background=call.background if call else False)
        if parent is not None:
            parent.usage.add_child(self.usage)
        inherited: BudgetTracker | None = parent.budget if parent is not None else None
        self.budget: BudgetTracker | None = (
            BudgetTracker(budget, inherited) if budget is not None else inherited
        )
        self.background = BackgroundTable(background, self.id) if background else None

    def finish(self, status: Status | None) -> None:
        """Record the end (the first recorded status wins)."""
        if self.usage.status is None and status is not None:
            self.usage.status = status.value
        if self.usage.ended is None:
            self.usage.ended = time.monotonic()

    async def aclose(self, error: BaseException | None) -> None:
        """End of the invocation: settle background children, record how it ended."""
        try:
            if self.background is not None:
                await self.background.close()
        finally:
            self.finish(_status_of(error))

    def close(self, error: BaseException | None) -> None:
        """Sync end of the invocation (no background children exist under sync runs)."""
        self.finish(_status_of(error))


def _status_of(error: BaseException | None) -> Status | None:
    if error is None:
        return Status.COMPLETED
    if isinstance(error, GeneratorExit | asyncio.CancelledError | KeyboardInterrupt):
        return Status.CANCELLED
    if isinstance(error, GraphBubbleUp):
        return None
    return Status.FAILED


def scope_of(config: RunnableConfig | None) -> RunScope | None:
    """The enclosing agent invocation's scope, from a node's config."""
    if not config:
        return None
    value: Any = config.get("configurable", {}).get(SCOPE_KEY)
    return value if isinstance(value, RunScope) else None


def observe(config: RunnableConfig | None = None) -> tuple[RunScope, RunnableConfig]:
    """Watch a run from outside: a scope above the root, and the config to run with.

    Returns:
        ``(scope, config)``: pass ``config`` to ``invoke``/``ainvoke``/``astream``; the root
        agent's usage node is then ``scope.usage.children[0]``, live while the run goes on and
        complete after it ended, also when it was cancelled or failed.

    Example:
        >>> scope, cfg = observe({"configurable": {"thread_id": "t1"}})
        >>> # await graph.ainvoke(inputs, cfg); scope.usage.children[0].status
    """
    scope = RunScope(agent="(run)", path=(), parent=None, call=None, budget=None,
                     background=None)
    own: RunnableConfig = {**(config or {})}
    own["configurable"] = {**own.get("configurable", {}), SCOPE_KEY: scope}
    return scope, own
