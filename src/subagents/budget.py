"""Tree-wide budgets: limits shared by an agent and every descendant, background included.

Project88's "at most 5 tool-call rounds across the full call tree" is
``Agent(budget=Budget(max_tool_rounds=5))`` on the root.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Budget", "BudgetTracker"]

_BUDGET_LOCK = threading.RLock()
"""One lock for reservations across a tree (a reservation checks and counts every level)."""


class Budget(BaseModel):
    """Limits for one agent's whole call tree (None: no limit).

    Children draw from their parent's budget; an agent may also set a smaller budget of its
    own, and then both apply. When a limit is reached, the model call that would exceed it is
    not made and the agent ends with status ``over_budget``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_model_calls: int | None = Field(default=None, ge=0, description="Model calls.")
    max_tool_rounds: int | None = Field(
        default=None, ge=0, description="Model turns that asked for one or more tool calls."
    )
    max_tokens: int | None = Field(default=None, ge=0, description="Input + output tokens.")
    max_seconds: float | None = Field(default=None, gt=0, description="Wall-clock seconds.")


@dataclass(slots=True)
class BudgetTracker:
    """Live counters of one ``Budget``, linked to the enclosing agent's tracker.

    Thread-safe: sync sub-agents run in LangGraph's thread pool.

    ``above`` returns the enclosing tracker (None at the top); it is asked at each use, not
    stored, because a run scope's parent can change (a background child adopted by a resumed
    run draws from that run's budget).
    """

    limits: Budget
    above: Callable[[], BudgetTracker | None] | None = field(default=None, repr=False)
    model_calls: int = 0
    tool_rounds: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def exhausted(self, *, tool_round: bool = False) -> str | None:
        """Why one more model call is not allowed here or above, or None if it is.

        Args:
            tool_round: the next call is a tool round (its tools are bound); rounds are
                counted when a reply asks for tools, so this is only informative.
        """
        tracker: BudgetTracker | None = self
        while tracker is not None:
            reason = tracker._own_reason()
            if reason:
                return reason
            tracker = tracker.up()
        return None

    def up(self) -> BudgetTracker | None:
        """The enclosing tracker (``above()``), or None at the top."""
        return self.above() if self.above is not None else None

    def _own_reason(self) -> str | None:
        lim = self.limits
        checks = (
            ("max_model_calls", lim.max_model_calls, self.model_calls),
            ("max_tool_rounds", lim.max_tool_rounds, self.tool_rounds),
            ("max_tokens", lim.max_tokens, self.tokens),
        )
        for name, limit, used in checks:
            if limit is not None and used >= limit:
                return f"budget exhausted: {name}={limit} (used {used})"
        if lim.max_seconds is not None:
            spent = time.monotonic() - self.started
            if spent >= lim.max_seconds:
                return f"budget exhausted: max_seconds={lim.max_seconds} (spent {spent:.1f} s)"
        return None

    def try_reserve(self) -> str | None:
        """Atomically claim one model call here and in every enclosing tracker.

        Returns:
            None when the call may be made (and is counted now, so parallel children can
            never overshoot ``max_model_calls``), else why not (nothing is claimed then).
        """
        chain: list[BudgetTracker] = []
        tracker: BudgetTracker | None = self
        while tracker is not None:
            chain.append(tracker)
            tracker = tracker.up()
        with _BUDGET_LOCK:
            for item in chain:
                reason = item._own_reason()
                if reason:
                    return reason
            for item in chain:
                item.model_calls += 1
        return None

    def tool_rounds_left(self) -> bool:
        """Whether a reply may still ask for tools (False: bind no tools)."""
        tracker: BudgetTracker | None = self
        while tracker is not None:
            lim = tracker.limits.max_tool_rounds
            if lim is not None and tracker.tool_rounds >= lim:
                return False
            tracker = tracker.up()
        return True

    def charge(self, *, model_calls: int = 0, tool_rounds: int = 0, tokens: int = 0) -> None:
        """Add usage here and to every enclosing tracker."""
        tracker: BudgetTracker | None = self
        while tracker is not None:
            with _BUDGET_LOCK:
                tracker.model_calls += model_calls
                tracker.tool_rounds += tool_rounds
                tracker.tokens += tokens
            tracker = tracker.up()
