"""The usage tree of a run: one node per agent invocation, summed up the tree."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from subagents.runtime.call import CallInfo

__all__ = ["UsageNode"]

_LOCK = threading.Lock()
"""Guards the counters and children of every node: each holder changes a few fields at most,
so one lock for all spares every node a lock of its own."""


@dataclass(slots=True, eq=False)
class UsageNode:
    """What one agent invocation used, and its children.

    Attributes:
        agent: agent name.
        path: ancestry path from the root (this agent last).
        tool_call_id: the parent's tool call that started it (None for the root).
        objective: the task message (shortened), None for the root.
        background: started by a background delegation.
        attempt: which attempt of its delegation this is (1; more under ``Agent.retry``).
        status: how it ended (a ``subagents.Status`` value), None while running.
        model_calls: model calls made by this agent itself.
        input_tokens: input tokens of those calls (from ``usage_metadata``).
        output_tokens: output tokens of those calls.
        tool_calls: tool calls it asked for (delegations included).
        priced_calls: those of its model calls that had a known price.
        priced_cost: US dollars of those calls (see :attr:`cost`).
        started: ``time.monotonic()`` at start (seconds).
        ended: ``time.monotonic()`` at the end, None while running.
        children: usage nodes of its delegations, in start order.
    """

    agent: str
    path: tuple[str, ...]
    tool_call_id: str | None = None
    objective: str | None = None
    background: bool = False
    attempt: int = 1
    status: str | None = None
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    priced_calls: int = 0
    priced_cost: float = 0.0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    children: list[UsageNode] = field(default_factory=list)

    @classmethod
    def of_call(cls, agent: str, path: tuple[str, ...], call: CallInfo | None,
                **fields: Any) -> UsageNode:
        """The node of one invocation of ``agent`` at ``path``, started by ``call``.

        Args:
            agent: the agent's name.
            path: its ancestry path (``agent`` last).
            call: the parent's delegation record (None: a root invocation).
            **fields: other attributes (``status``, ``ended``, ...).
        """
        return cls(agent=agent, path=path, tool_call_id=call.tool_call_id if call else None,
                   objective=call.objective[:200] if call else None,
                   background=call.background if call else False,
                   attempt=call.attempt if call else 1, **fields)

    @property
    def cost(self) -> float | None:
        """US dollars of its own model calls; None when one of them had no known price.

        See :mod:`subagents.runtime.cost`; 0.0 before its first call.
        """
        return self.priced_cost if self.priced_calls == self.model_calls else None

    @property
    def seconds(self) -> float:
        """Wall seconds from start to end (or to now while running)."""
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def add_child(self, child: UsageNode) -> None:
        """Attach a delegation's node (thread-safe)."""
        with _LOCK:
            self.children.append(child)

    def remove_child(self, child: UsageNode) -> None:
        """Detach a child's node (a background child adopted by a resumed run; thread-safe)."""
        with _LOCK:
            self.children = [c for c in self.children if c is not child]

    def record_model_call(self, usage: Mapping[str, Any] | None, tool_calls: int,
                          cost: float | None = None) -> None:
        """Count one model reply, its token usage and its cost (USD; None: unknown)."""
        with _LOCK:
            self.model_calls += 1
            self.tool_calls += tool_calls
            if cost is not None:
                self.priced_calls += 1
                self.priced_cost += cost
            if usage:
                self.input_tokens += int(usage.get("input_tokens", 0))
                self.output_tokens += int(usage.get("output_tokens", 0))

    def totals(self) -> dict[str, float]:
        """This node plus every descendant: model_calls, tokens, tool_calls."""
        sums: dict[str, float] = {"model_calls": self.model_calls,
                                  "input_tokens": self.input_tokens,
                                  "output_tokens": self.output_tokens,
                                  "tool_calls": self.tool_calls}
        for child in list(self.children):
            for key, value in child.totals().items():
                sums[key] += value
        return sums

    def total_cost(self) -> float | None:
        """US dollars of this node's and every descendant's model calls (None: one unknown)."""
        total = self.cost
        for child in list(self.children):
            if total is None:
                return None
            below = child.total_cost()
            total = None if below is None else total + below
        return total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this node, its totals and its children (recursively).

        ``cost`` is the node's own (USD, None: unknown); ``totals["cost"]`` the subtree's,
        present only when every call of the subtree was priced.
        """
        totals: dict[str, Any] = self.totals()
        cost = self.total_cost()
        if cost is not None:
            totals["cost"] = cost
        return {
            "agent": self.agent, "path": list(self.path), "tool_call_id": self.tool_call_id,
            "objective": self.objective, "background": self.background, "status": self.status,
            **({"attempt": self.attempt} if self.attempt > 1 else {}),
            "model_calls": self.model_calls, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "tool_calls": self.tool_calls,
            "cost": self.cost, "seconds": round(self.seconds, 4), "totals": totals,
            "children": [c.to_dict() for c in list(self.children)],
        }
