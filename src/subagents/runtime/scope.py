"""``RunScope``: the live record of one agent invocation.

Every invocation of an agent graph (the root, each delegation, each background child) opens a
scope that holds its usage node, its budget tracker and its background children. Scopes reach
nodes through ``config["configurable"][SCOPE_KEY]``; a child's scope links to its parent's,
so usage sums up the tree and budgets are drawn from every ancestor.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from subagents.events import BaseEvent
from subagents.results import Status
from subagents.runtime import parking
from subagents.runtime.background import BackgroundTable
from subagents.runtime.budget import BudgetTracker
from subagents.runtime.call import SCOPE_KEY, CallInfo, Stopped
from subagents.runtime.parking import ParkKey
from subagents.runtime.relay import LateStream
from subagents.runtime.upstream import CONFIG_KEY_STREAM
from subagents.runtime.usage import UsageNode
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget

__all__ = ["SPENT_FIELDS", "SPENT_METADATA", "Listener", "RunScope", "Sink", "closing", "scope_of",
           "spent_counts"]

Listener = Callable[[list[str], BaseEvent], Any]
"""``on_subagent_event(path, event)``."""
Sink = Callable[[BaseEvent], Any]
"""A receiver of every event of a run (``observe(on_event=...)``)."""
_log = logging.getLogger("subagents")
_SPENT_LOCK = threading.Lock()
SPENT_FIELDS = ("model_calls", "tool_rounds", "tokens", "cost")
"""The budget counters a scope keeps in ``RunScope.spent`` (and checkpoints)."""
SPENT_METADATA = "subagents_spent"
"""``response_metadata`` key of a finished delegation's ``ToolMessage``: what the child spent
(``SPENT_FIELDS``, under a budget only), counted again by a run resuming the step it ended in
(its write is not in the checkpoint's counters; ``subgraphs.compiled``)."""


def spent_counts(raw: Any) -> dict[str, float]:
    """The ``SPENT_FIELDS`` of a carried spent record that are numbers (not a mapping: ``{}``).

    The record is an attempt log's or a ``SPENT_METADATA`` value; anything else is dropped.
    """
    if not isinstance(raw, Mapping):
        return {}
    return {k: raw[k] for k in SPENT_FIELDS
            if isinstance(raw.get(k), int | float) and not isinstance(raw[k], bool)}


class RunScope:
    """One agent invocation: usage, budget, background children (see module docstring)."""

    def __init__(self, *, agent: str, path: tuple[str, ...], parent: RunScope | None,
                 call: CallInfo | None, budget: Budget | None,
                 background: BackgroundConfig | None, listener: Listener | None = None,
                 table: BackgroundTable[RunScope] | None = None) -> None:
        self.parent = parent
        self.call = call
        self.listener = listener
        self.sinks: list[Sink] = []
        self._listens = listener is not None
        self.adopted = False
        """This run adopted a paused run's background table (see ``adopt``)."""
        self.moved = bool(call is not None and call.background and parent is not None
                          and parent.relay is not None)
        """A background child re-attached to (or started under) a run that hosts children
        an earlier run started: its events go to that run's stream (``relay``)."""
        self.relay: LateStream | None = None
        """A run hosting background children an earlier run started (it adopted a paused
        run's table, or re-attached them after a restart, see :meth:`host`): the custom
        stream of this run's nodes, bound when the first one runs (``runtime.relay``)."""
        self.children: dict[tuple[int, int], RunScope] = {}
        """The scopes the delegations of this run opened, by ``(serial, attempt)`` of their
        ``CallInfo`` (see :meth:`child`); a foreground delegation's until it ends."""
        if parent is not None and call is not None:
            parent.children[call.serial, call.attempt] = self
        self.usage = UsageNode.of_call(agent, path, call)
        if parent is not None:
            parent.usage.add_child(self.usage)
        self._budget = (BudgetTracker(budget, above=self._budget_above)
                        if budget is not None else None)
        self.spent: dict[str, float] = dict.fromkeys(SPENT_FIELDS, 0)
        """Budget counters spent by this invocation and its sub-agents (under a budget)."""
        self.continues_thread = False
        """A root run that continues its thread (a resume): the sub-agents it resumes re-attach
        their persisted background children (see ``nodes.reattach``)."""
        self.restored = False
        """Its counters were restored from a checkpoint (or there was nothing to restore)."""
        self._paused: RunScope | None = None
        """The paused run whose background table this run adopted (same process)."""
        self.background: BackgroundTable[RunScope] | None = table if table is not None else (
            BackgroundTable(background, uuid.uuid4().hex) if background else None
        )
        """The run's background children; ``table`` is a paused run's, adopted on resume."""
        if table is not None:
            self.adopt(table)
        elif self.background is not None:
            self.background.home = self

    def child(self, call: CallInfo) -> RunScope | None:
        """The scope the running attempt of a delegation of this run opened (None: not yet).

        Args:
            call: the delegation's record; its ``attempt`` picks the attempt.
        """
        return self.children.get((call.serial, call.attempt))

    @property
    def listening(self) -> bool:
        """Whether a listener or sink here or above receives this scope's events."""
        scope: RunScope | None = self
        while scope is not None:
            if scope._listens:
                return True
            scope = scope.parent
        return False

    @listening.setter
    def listening(self, value: bool) -> None:
        self._listens = value

    @property
    def stopped(self) -> bool:
        """Whether this invocation or one above it was told to stop (``CallInfo.stopped``)."""
        scope: RunScope | None = self
        while scope is not None:
            if scope.call is not None and scope.call.stopped:
                return True
            scope = scope.parent
        return False

    @property
    def budget(self) -> BudgetTracker | None:
        """The nearest budget tracker here or above (looked up now: parents can change)."""
        scope: RunScope | None = self
        while scope is not None:
            if scope._budget is not None:
                return scope._budget
            scope = scope.parent
        return None

    def add_spent(self, **counts: float) -> None:
        """Count spending (``model_calls``, ``tool_rounds``, ``tokens``, ``cost``) here, above."""
        with _SPENT_LOCK:
            scope: RunScope | None = self
            while scope is not None:
                for key, value in counts.items():
                    scope.spent[key] += value
                scope = scope.parent

    def spent_record(self) -> dict[str, Any]:
        """The counters to checkpoint (``SPENT_KEY``), tagged with the tool call and attempt."""
        with _SPENT_LOCK:
            return {**self.spent, "tool_call_id": self.usage.tool_call_id,
                    "attempt": self.usage.attempt}

    def restore(self, record: Any) -> None:
        """Go on from the counters a paused or crashed run of this invocation checkpointed.

        Runs once per scope. ``record`` (``spent_record()`` read back) counts only if written
        for the same tool call and attempt (a persistent child's next delegation, or next
        attempt, starts at zero: its parent counted the rest); its counters are added here,
        above, and to every enclosing budget tracker.
        """
        if self.restored:
            return
        self.restored, budget, usage = True, self.budget, self.usage
        if (budget is None or not isinstance(record, dict) or record.get("attempt", 1)
                != usage.attempt or record.get("tool_call_id") != usage.tool_call_id):
            return
        counts = {k: (float if k == "cost" else int)(record.get(k) or 0) for k in SPENT_FIELDS}
        if self._paused is not None:  # its children spent on after its last checkpoint
            live = self._paused.spent_record()
            counts = {k: max(counts[k], type(counts[k])(live.get(k) or 0)) for k in SPENT_FIELDS}
        self.add_spent(**counts)
        budget.restore(counts)

    def count_again(self, counts: Mapping[str, float]) -> None:
        """Count spending a resumed run's checkpoint does not hold, here and above.

        What a delegation's earlier attempts spent (``nodes._attempt_log``), or a
        delegation that finished in the step that paused (its ``ToolMessage``'s
        ``SPENT_METADATA``): added to these counters and to every enclosing budget tracker.
        Nothing without a budget in the lineage (nothing is counted then).

        Args:
            counts: some of ``SPENT_FIELDS`` (``cost`` in USD).
        """
        budget = self.budget
        if budget is None or not counts:
            return
        self.add_spent(**counts)
        budget.restore(counts)

    def _budget_above(self) -> BudgetTracker | None:
        return self.parent.budget if self.parent is not None else None

    def adopt(self, table: BackgroundTable[RunScope]) -> None:
        """Take over a paused run's background table (this run resumes it).

        Every child that opened its scope moves here: its usage node leaves the paused run's
        tree for this one (counted once, in full), its events reach this run's listeners,
        sinks and stream, its budget is drawn from this run's tracker. Children not started
        yet open under this scope (``table.home``).
        """
        before, table.home = table.home, self
        self.background, self.adopted = table, True
        self.host()
        if before is None or before is self:
            return
        self._paused = before
        for job in table.jobs.values():
            if job.link is not None:
                self._take(before, job.link)

    def _take(self, before: RunScope, call: CallInfo) -> None:
        """Move here the scope a background child opened under ``before`` (if it opened)."""
        key = (call.serial, call.attempt)
        child = before.children.pop(key, None)
        if child is None:
            return
        self.children[key] = child
        if child.parent is not self:
            if child.parent is not None:
                child.parent.usage.remove_child(child.usage)
            child.parent, child.moved = self, True
            self.usage.add_child(child.usage)

    def host(self) -> None:
        """This run hosts background children an earlier run started: relay their events.

        Their events (and those this run emits for them with the earlier run's config) go
        to this run's custom stream once a node of it runs (:meth:`node_config`), held until
        then (``runtime.relay.LateStream``).
        """
        if self.relay is None:
            self.relay = LateStream()

    def node_config(self, config: RunnableConfig | None) -> None:
        """A node of this hosting run runs with ``config``: bind its stream (see :meth:`host`)."""
        if self.relay is not None:
            self.relay.bind(config)

    def emit(self, event: BaseEvent, config: RunnableConfig | None) -> None:
        """Deliver an event to every listener above it and to LangGraph's custom stream.

        A failing listener is logged and never breaks the run.
        """
        scope: RunScope | None = self
        while scope is not None:
            if scope.listener is not None and len(event.path) > len(scope.usage.path):
                _safely(scope.listener, list(event.path), event)
            for sink in scope.sinks:
                _safely(sink, event)
            scope = scope.parent
        stream = self.stream(config)
        if stream is not None and "custom" in stream.modes:
            _write(stream, event, config)

    def stream(self, config: RunnableConfig | None) -> Any:
        """The custom stream of this scope's events (None: none).

        The config's; for a child re-attached to a resumed run (here or above) that run's
        relay; for a hosting run emitting with an earlier run's config (no stream), its own.
        """
        scope: RunScope | None = self
        while scope is not None:
            if scope.moved and scope.parent is not None:
                return scope.parent.relay
            scope = scope.parent
        found = _stream_of(config)
        return self.relay if found is None and self.relay is not None else found

    def rebase(self, config: RunnableConfig) -> RunnableConfig:
        """``config`` (a paused run's node's) with this adopting run's stream and scope."""
        if not self.adopted:
            return config
        conf = {**config.get("configurable", {}), SCOPE_KEY: self}
        conf.pop(CONFIG_KEY_STREAM, None)
        if self.relay is not None and self.relay.target is not None:
            conf[CONFIG_KEY_STREAM] = self.relay.target
        return {**config, "configurable": conf}

    def wants_events(self, config: RunnableConfig | None) -> bool:
        """Whether anyone receives events here (listeners, or LangGraph's custom stream)."""
        if self.listening:
            return True
        stream = self.stream(config)
        return stream is not None and "custom" in stream.modes

    def finish(self, status: Status | None) -> None:
        """Record the end (the first recorded status wins)."""
        if self.usage.status is None and status is not None:
            self.usage.status = status.value
        if self.usage.ended is None:
            self.usage.ended = time.monotonic()

    async def aclose(self, error: BaseException | None, park: ParkKey | None = None, *,
                     finished: bool = False) -> None:
        """End of the invocation: settle background children, record how it ended.

        Args:
            error: what ended it (None: it returned).
            park: set when the run ended paused on a checkpointer thread: its background
                children are parked under this key for the resumed run instead of cancelled
                (see :mod:`subagents.runtime.parking`); or, with ``finished``, when a root run with
                ``auto_cancel=False`` completed: kept for the thread's next turn.
            finished: the run completed (it did not pause).
        """
        try:
            if self.background is not None and park is not None and self.background.jobs:
                parking.park(park, self.background, self.background.config.park_ttl,
                             finished=finished)
            elif self.background is not None:
                await self.background.close()
        finally:
            self.finish(_status_of(error))
            if park is None:  # no resumed run adopts its children: drop them (no cycle)
                self.children.clear()

    def close(self, error: BaseException | None) -> None:
        """Sync end of the invocation (no background children exist under sync runs)."""
        self.finish(_status_of(error))
        self.children.clear()  # the children's scopes point here: no cycle left to collect


class closing:
    """Close ``scope`` (sync) when the block ends, recording how: returned, raised, cancelled.

    For invocations with no background children (sync runs, remote sub-agents); ``None``
    (no scope) does nothing. A class, not a ``contextmanager`` generator: every delegation
    of a sync run enters one at each level of the tree.
    """

    __slots__ = ("scope",)

    def __init__(self, scope: RunScope | None) -> None:
        self.scope = scope

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.scope is not None:
            self.scope.close(error)


def _status_of(error: BaseException | None) -> Status | None:
    if error is None:
        return Status.COMPLETED
    if isinstance(error, GeneratorExit | asyncio.CancelledError | KeyboardInterrupt | Stopped):
        return Status.CANCELLED
    if isinstance(error, GraphBubbleUp):
        return None
    return Status.FAILED


def _safely(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # a listener must never break the run
        _log.exception("subagents event listener failed")


def _stream_of(config: RunnableConfig | None) -> Any:
    return (config or {}).get("configurable", {}).get(CONFIG_KEY_STREAM)


def _write(stream: Any, event: BaseEvent, config: RunnableConfig | None) -> None:
    """Write an event to LangGraph's ``custom`` stream, namespaced like the emitting node.

    LangGraph hands nested graphs the run's stream only with ``subgraphs=True``.
    """
    ns = tuple(str((config or {}).get("configurable", {}).get("checkpoint_ns", "")).split("|")[:-1])
    stream((ns, "custom", event.model_dump(mode="json")))


def scope_of(config: RunnableConfig | None) -> RunScope | None:
    """The enclosing agent invocation's scope, from a node's config."""
    if not config:
        return None
    value: Any = config.get("configurable", {}).get(SCOPE_KEY)
    return value if isinstance(value, RunScope) else None
