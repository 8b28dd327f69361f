"""A retried delegation's attempts, recorded so that a resumed node goes on from them.

LangGraph runs a node again from its start when its run is resumed (after an interrupt or a
crash). A delegation node whose child paused in attempt ``n > 1`` would then run attempt 1
again, as if nothing had failed: a fresh child re-ran the failed attempt (and its model
calls), and the result said ``attempts: 1`` with no ``errors``.

:class:`AttemptLog` keeps, in the parent's checkpointer, the state of the node's retry loop:
``{"attempt": n, "errors": [...]}``, written when attempt ``n > 1`` is decided (before the
wait), as a checkpoint in a namespace of its own beside the node's task,
``<task checkpoint_ns>|retry`` (the task's namespace is the same when the node is resumed;
no graph runs in this one). A resumed node (LangGraph's resuming flag) reads it and goes on
at attempt ``n`` with the earlier errors: a child run as a subgraph resumes attempt ``n``'s
own checkpoints (its earlier attempts' subgraph run numbers are skipped, see
``runtime.upstream.skip_subgraph_runs``), a persistent child attempt ``n``'s task message on
its thread. A background child on its own checkpoint thread keeps its log in that thread
(namespace ``retry``) and goes on from it when it is re-attached after a restart. The
parent's budget counts the resumed attempt from its checkpointed counters
(``RunScope.restore``), and the spending of the earlier attempts from the log: each record
also holds what the attempts before it spent (their run scopes' counters, ``SPENT_FIELDS``),
added back to the node's scope and budget on resume. (A background child's log holds no
spending: its parent's checkpointed counters can already hold it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.constants import CONFIG_KEY_CHECKPOINTER

from subagents.nodes.persistent import own_thread
from subagents.nodes.plan import ChildLink
from subagents.runtime.call import CallInfo
from subagents.runtime.scope import SPENT_FIELDS, RunScope, scope_of, spent_counts
from subagents.runtime.steps import Both
from subagents.runtime.upstream import CONFIG_KEY_RESUMING, skip_subgraph_runs

__all__ = ["AttemptLog", "Recorded"]

_NS = "retry"
_CHANNEL = "subagents_attempts"


class Recorded(NamedTuple):
    """A log's record: attempt ``attempt`` runs next, after ``errors``.

    ``spent``: the counters of the attempts before it (``SPENT_FIELDS``; ``cost`` in USD).
    """

    attempt: int
    errors: list[str]
    spent: dict[str, float]


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """Where one delegation node records its retry loop: a checkpoint namespace of its own.

    Attributes:
        saver: the parent run's checkpointer.
        where: ``{"configurable": {"thread_id", "checkpoint_ns"}}`` of the record.
        node: the delegation node's config (its scratchpad numbers its subgraph runs);
            None for a background child's log.
        resuming: the node runs in a resumed run (LangGraph's flag).
        spent: the counters of the attempts that ended so far (from the record on resume).
    """

    saver: BaseCheckpointSaver[Any]
    where: RunnableConfig
    node: RunnableConfig | None
    resuming: bool
    spent: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, config: RunnableConfig, thread: str | None = None,
           resumed: bool = False) -> AttemptLog | None:
        """The log of a delegation; None without a checkpointer or thread.

        Args:
            config: the delegation node's config (its checkpointer, thread and namespace).
            thread: a background child's own checkpoint thread: the log is kept there (in
                its namespace ``retry``), not beside the node, which a re-attached child
                outlives.
            resumed: for ``thread``: the child is re-attached after a restart.
        """
        conf = config.get("configurable", {})
        saver, ns = conf.get(CONFIG_KEY_CHECKPOINTER), conf.get("checkpoint_ns")
        if not isinstance(saver, BaseCheckpointSaver):
            return None
        if thread is not None:
            return cls(saver, {"configurable": {"thread_id": thread, "checkpoint_ns": _NS}},
                       None, resumed)
        if conf.get("thread_id") is None or not ns:
            return None
        where: RunnableConfig = {"configurable": {"thread_id": str(conf["thread_id"]),
                                                  "checkpoint_ns": f"{ns}|{_NS}"}}
        return cls(saver, where, config, bool(conf.get(CONFIG_KEY_RESUMING)))

    @classmethod
    def for_call(cls, link: ChildLink, call: CallInfo, config: RunnableConfig,
                 resumed: bool) -> AttemptLog | None:
        """The log of one delegation to ``link`` (None: no retry policy, nowhere to keep it).

        Beside the delegation node; a background child's on its own checkpoint thread
        (``nodes.persistent.own_thread``; none without one). ``resumed``: the background
        child is re-attached after a restart.
        """
        if link.agent.retry is None:
            return None
        if not call.background:
            return cls.of(config)
        thread = own_thread(link, call, config)
        return None if thread is None else cls.of(config, thread, resumed)

    def record(self, call: CallInfo) -> Both:
        """Write that attempt ``len(call.errors) + 1`` runs next (a request: ``None``).

        The record holds ``call.errors`` and the spending of the attempts so far: the one
        that just ended is read from the scope it opened under the node's (found by
        ``call``), added to what the earlier ones spent.
        """
        attempt = len(call.errors) + 1
        scope = self._scope()
        ended = scope.child(call) if scope is not None else None
        if ended is not None:
            for key in SPENT_FIELDS:
                self.spent[key] = self.spent.get(key, 0) + ended.spent[key]
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {_CHANNEL: {
            "attempt": attempt, "errors": list(call.errors), "spent": dict(self.spent)}}
        checkpoint["channel_versions"] = {_CHANNEL: attempt}  # rising: savers keep one blob each
        metadata: Any = {"source": "update", "step": attempt, "parents": {}}
        versions: dict[str, str | int | float] = {_CHANNEL: attempt}
        return Both(lambda: self.saver.put(self.where, checkpoint, metadata, versions),
                    lambda: self.saver.aput(self.where, checkpoint, metadata, versions))

    def recall(self) -> Both:
        """Read the record (a request: a :class:`Recorded`, or None when there is none)."""
        return Both(lambda: _read(self.saver.get_tuple(self.where)),
                    lambda: _aread(self.saver.aget_tuple(self.where)))

    def resume_at(self, saved: Recorded) -> None:
        """Go on from ``saved``: the earlier attempts are not run again.

        Their subgraph run numbers are skipped (``runtime.upstream.skip_subgraph_runs``), and
        their spending is counted again in the node's scope and every enclosing budget (the
        resumed run's counters start from the parent's checkpoint, written before the node).
        """
        self.spent.update(saved.spent)
        if self.node is None:
            return
        skip_subgraph_runs(dict(self.node), saved.attempt - 1)
        if (scope := self._scope()) is not None:
            scope.count_again(saved.spent)

    def _scope(self) -> RunScope | None:
        """The delegation node's run scope (None: a background child's log, no scope)."""
        return scope_of(self.node) if self.node is not None else None


async def _aread(pending: Any) -> Recorded | None:
    return _read(await pending)


def _read(found: Any) -> Recorded | None:
    record = found.checkpoint["channel_values"].get(_CHANNEL) if found is not None else None
    if not isinstance(record, dict):
        return None
    attempt, errors, spent = record.get("attempt"), record.get("errors"), record.get("spent", {})
    if (not isinstance(attempt, int) or not isinstance(errors, list)
            or len(errors) != attempt - 1 or not all(isinstance(e, str) for e in errors)
            or not isinstance(spent, dict)):
        return None
    return Recorded(attempt, errors, spent_counts(spent))
