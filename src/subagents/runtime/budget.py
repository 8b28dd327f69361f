"""Tree-wide budgets: limits shared by an agent and every descendant, background included.

Project88's "at most 5 tool-call rounds across the full call tree" is
``Agent(budget=Budget(max_tool_rounds=5))`` on the root.

Counters are reservations, taken atomically in every enclosing tracker before the work they
count: a model call reserves its place (and its tokens) before it is made, a reply's tool
calls run only after a tool round was reserved. So parallel children never overshoot
``max_model_calls`` or ``max_tool_rounds``, ``max_tokens`` by at most one call's
reservation, and ``max_cost`` not at all as long as no call costs more than its worst case
(see :meth:`BudgetTracker.reserve_call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from subagents.errors import SubagentsError
from subagents.runtime.cost import UnpricedModelError
from subagents.spec.budget import Budget

__all__ = ["DEFAULT_MAX_OUTPUT_TOKENS", "BudgetDeadline", "BudgetTracker",
           "Reservation", "deadline", "deadline_passed", "max_output_tokens", "prompt_tokens"]

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""Output tokens reserved for a model call when the model sets no ``max_tokens``."""

_LOCK = threading.RLock()
"""One lock for reservations across every tree (a reservation checks and counts every level)."""
_SETTLED = threading.Condition(_LOCK)
"""Notified when a token reservation settles (sync callers waiting for room)."""
_ASYNC_WAITERS: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
"""Async callers waiting for a token reservation to settle (guarded by ``_LOCK``)."""
_WAIT = "wait"  # not a reason: wait for in-flight token reservations to settle




class BudgetDeadline(SubagentsError):
    """Raised by :func:`deadline` when ``max_seconds`` passed during the block."""


@dataclass(slots=True)
class Reservation:
    """One model call's claim in every tracker of a chain (see ``reserve_call``).

    Attributes:
        chain: the trackers it was counted in, innermost first.
        tokens: tokens reserved in each of them (0 when none has ``max_tokens``).
        cost: USD reserved in each of them (the call's worst case; 0 when none has
            ``max_cost``).
    """

    chain: list[BudgetTracker]
    tokens: int
    settled: bool = False
    cost: float = 0.0

    def settle(self, used: int, cost: float | None = None) -> None:
        """Replace the reservation by ``used`` tokens and ``cost`` USD (idempotent; wakes waiters).

        ``cost`` None (unknown: the reply reported no usage) counts the reserved worst case.
        """
        with _LOCK:
            if self.settled:
                return
            self.settled = True
            for tracker in self.chain:
                tracker.reserved -= self.tokens
                tracker.tokens += used
                tracker.in_flight -= 1
                tracker.reserved_cost = tracker.reserved_cost - self.cost if tracker.in_flight \
                    else 0.0  # no float residue once nothing is in flight
                tracker.cost += self.cost if cost is None else cost
            _SETTLED.notify_all()
            waiters = list(_ASYNC_WAITERS)
            _ASYNC_WAITERS.clear()
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: no one left to wake
                loop.call_soon_threadsafe(_wake, fut)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass(slots=True)
class BudgetTracker:
    """Live counters of one ``Budget``, linked to the enclosing agent's tracker.

    Thread-safe: sync sub-agents run in LangGraph's thread pool.

    ``above`` returns the enclosing tracker (None at the top); it is asked at each use, not
    stored, because a run scope's parent can change (a background child adopted by a resumed
    run draws from that run's budget).

    Attributes:
        model_calls: model calls reserved (made or in flight).
        tool_rounds: tool rounds reserved.
        tokens: tokens spent by settled calls.
        reserved: tokens reserved by calls in flight.
        cost: USD spent by settled calls (priced calls only).
        reserved_cost: USD reserved by calls in flight (under ``max_cost``).
        in_flight: model calls reserved and not settled yet.
        started: ``time.monotonic()`` when the run opened (seconds).
    """

    limits: Budget
    above: Callable[[], BudgetTracker | None] | None = field(default=None, repr=False)
    model_calls: int = 0
    tool_rounds: int = 0
    tokens: int = 0
    reserved: int = 0
    cost: float = 0.0
    reserved_cost: float = 0.0
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)

    def up(self) -> BudgetTracker | None:
        """The enclosing tracker (``above()``), or None at the top."""
        return self.above() if self.above is not None else None

    def chain(self) -> list[BudgetTracker]:
        """This tracker and every enclosing one, innermost first."""
        out: list[BudgetTracker] = []
        tracker: BudgetTracker | None = self
        while tracker is not None:
            out.append(tracker)
            tracker = tracker.up()
        return out

    def exhausted(self) -> str | None:
        """Why no model call may start now, here or above, or None if one may."""
        with _LOCK:
            for tracker in self.chain():
                if reason := tracker._own_reason():
                    return reason
        return None

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
        if lim.max_cost is not None and self.cost >= lim.max_cost:
            return f"budget exhausted: max_cost={lim.max_cost} (spent {self.cost:.6g} USD)"
        if lim.max_seconds is not None:
            spent = time.monotonic() - self.started
            if spent >= lim.max_seconds:
                return f"budget exhausted: max_seconds={lim.max_seconds} (spent {spent:.1f} s)"
        return None

    @staticmethod
    def _estimate(chain: list[BudgetTracker], estimate: Callable[[], int]) -> int:
        """The tokens to reserve: ``estimate()`` when a tracker limits tokens, else 0."""
        return estimate() if any(t.limits.max_tokens is not None for t in chain) else 0

    @staticmethod
    def _worst(chain: list[BudgetTracker], cost: Callable[[], float] | None) -> float:
        """The USD to reserve: ``cost()`` when a tracker limits cost, else 0."""
        if not any(t.limits.max_cost is not None for t in chain):
            return 0.0
        if cost is None:
            msg = ("a model call of unknown price under a budget with max_cost: price its "
                   "model (Agent.pricing) or remove max_cost")
            raise UnpricedModelError(msg)
        return cost()

    @staticmethod
    def _try_call(chain: list[BudgetTracker], tokens: int,
                  cost: float = 0.0) -> Reservation | str:
        """Under ``_LOCK``: a reservation, a reason (refused), or ``_WAIT``."""
        for tracker in chain:
            if reason := tracker._own_reason():
                return reason
        for t in chain:
            limit = t.limits.max_tokens
            if limit is not None and t.tokens + t.reserved >= limit:
                return _WAIT  # tokens < limit (else a reason above): some are in flight
        for t in chain:
            if (reason := t._no_room(cost)) is not None:
                return reason
        for tracker in chain:
            tracker.model_calls += 1
            tracker.reserved += tokens
            tracker.reserved_cost += cost
            tracker.in_flight += 1
        return Reservation(chain, tokens, cost=cost)

    def _no_room(self, cost: float) -> str | None:
        """Under ``_LOCK``: None when a call of worst case ``cost`` USD fits ``max_cost``.

        Else ``_WAIT`` while calls are in flight (they may settle below their worst case),
        or the reason the call is refused.
        """
        limit = self.limits.max_cost
        if limit is None or self.cost + self.reserved_cost + cost <= limit:
            return None
        if self.in_flight:
            return _WAIT
        return (f"budget exhausted: max_cost={limit} (spent {self.cost:.6g} USD; the next "
                f"model call may cost up to {cost:.6g} USD)")

    def reserve_call(self, estimate: Callable[[], int],
                     cost: Callable[[], float] | None = None) -> Reservation | str:
        """Claim one model call here and in every enclosing tracker (sync; may wait).

        The call is counted at once, so parallel children never overshoot
        ``max_model_calls``. With a ``max_tokens`` limit, ``estimate()`` tokens (the
        request's prompt estimate plus its max output tokens) are reserved until the call
        settles (:meth:`Reservation.settle`); a call starts only while spent + in-flight
        reservations < max_tokens, and otherwise waits for an in-flight call to settle. So
        the tokens spent exceed ``max_tokens`` by at most one call's reservation, as long as
        no call uses more than it reserved. With a ``max_cost`` limit, ``cost()`` USD (the
        call's worst case) are reserved, and the call starts only when spent + in-flight +
        its worst case <= max_cost (waiting while calls are in flight, refused otherwise):
        the cost never exceeds ``max_cost`` as long as no call costs more than it reserved.

        Args:
            estimate: the tokens to reserve (called only when a tracker limits tokens).
            cost: the call's worst-case USD (called only when a tracker limits cost; see
                ``ModelPrice.worst``); None when the model's price is unknown.

        Returns:
            The reservation, or why the call may not be made (nothing is claimed then).

        Raises:
            UnpricedModelError: a tracker limits cost and the call's price is unknown.
        """
        chain = self.chain()
        tokens = self._estimate(chain, estimate)
        worst = self._worst(chain, cost)
        with _SETTLED:
            while (got := self._try_call(chain, tokens, worst)) == _WAIT:
                _SETTLED.wait(timeout=self._left(chain))
        return got

    async def areserve_call(self, estimate: Callable[[], int],
                            cost: Callable[[], float] | None = None) -> Reservation | str:
        """``reserve_call`` for async callers: waits without blocking the event loop."""
        chain = self.chain()
        tokens = self._estimate(chain, estimate)
        worst = self._worst(chain, cost)
        loop = asyncio.get_running_loop()
        while True:
            with _LOCK:
                got = self._try_call(chain, tokens, worst)
                if got != _WAIT:
                    return got
                fut: asyncio.Future[None] = loop.create_future()
                _ASYNC_WAITERS.append((loop, fut))
            try:
                async with asyncio.timeout(self._left(chain)):
                    await fut
            except TimeoutError:
                pass  # the deadline passed: the next check says so

    def reserve_round(self) -> str | None:
        """Claim one tool round here and in every enclosing tracker.

        Returns:
            None when the reply's tool calls may run (counted now), else why not.
        """
        chain = self.chain()
        with _LOCK:
            for tracker in chain:
                lim = tracker.limits.max_tool_rounds
                if lim is not None and tracker.tool_rounds >= lim:
                    return f"budget exhausted: max_tool_rounds={lim} (used {tracker.tool_rounds})"
            for tracker in chain:
                tracker.tool_rounds += 1
        return None

    def deadline(self) -> tuple[float, float] | None:
        """The earliest ``max_seconds`` deadline here or above: (monotonic time, limit)."""
        ends = [(t.started + t.limits.max_seconds, t.limits.max_seconds)
                for t in self.chain() if t.limits.max_seconds is not None]
        return min(ends) if ends else None

    def _left(self, chain: list[BudgetTracker]) -> float | None:
        ends = [t.started + t.limits.max_seconds for t in chain
                if t.limits.max_seconds is not None]
        return max(0.0, min(ends) - time.monotonic()) if ends else None

    def restore(self, spent: Mapping[str, Any]) -> None:
        """Add counters read back from a checkpoint here and in every enclosing tracker.

        Args:
            spent: ``{"model_calls", "tool_rounds", "tokens", "cost"}`` a paused or crashed
                run had spent (missing keys count 0; ``cost`` in USD).
        """
        chain = self.chain()
        with _LOCK:
            for tracker in chain:
                tracker.model_calls += int(spent.get("model_calls", 0))
                tracker.tool_rounds += int(spent.get("tool_rounds", 0))
                tracker.tokens += int(spent.get("tokens", 0))
                tracker.cost += float(spent.get("cost", 0.0) or 0.0)


@asynccontextmanager
async def deadline(tracker: BudgetTracker | None, what: str) -> AsyncIterator[None]:
    """Cancel the block at the earliest ``max_seconds`` deadline of ``tracker``'s chain.

    Args:
        tracker: the budget tracker of the run (None: no deadline).
        what: what the block does, for the error ("a model call", "a tool call").

    Raises:
        BudgetDeadline: the deadline passed during the block (its message names
            ``max_seconds``).
    """
    end = tracker.deadline() if tracker is not None else None
    if end is None:
        yield
        return
    timeout = asyncio.timeout_at(end[0])
    try:
        async with timeout:
            yield
    except TimeoutError as exc:
        if not timeout.expired():
            raise
        raise deadline_passed(end[1], what) from exc


def deadline_passed(limit: float, what: str) -> BudgetDeadline:
    """The error of a block the ``max_seconds`` deadline cut off.

    Args:
        limit: the budget's ``max_seconds`` (seconds).
        what: what the block did ("a model call", "a tool call").
    """
    return BudgetDeadline(f"budget exhausted: max_seconds={limit} (deadline reached during "
                          f"{what})")


def max_output_tokens(model: Any) -> int:
    """The most output tokens a model may return (reserved per call).

    Its ``max_tokens`` or ``max_completion_tokens`` attribute when set, else
    ``DEFAULT_MAX_OUTPUT_TOKENS``.
    """
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = getattr(model, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_OUTPUT_TOKENS


def prompt_tokens(messages: Sequence[Any]) -> int:
    """A cheap estimate of a request's prompt tokens: characters / 4, plus one per message.

    Characters of every message's content and tool calls are counted; tool schemas are
    not. No tokenizer is run (``get_num_tokens_from_messages`` may be slow or unavailable).
    """
    chars = 0
    for msg in messages:
        chars += len(str(getattr(msg, "content", msg)))
        calls = getattr(msg, "tool_calls", None)
        if calls:
            chars += len(str(calls))
    return chars // 4 + len(messages)
