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
(``RunScope.restore``); the spending of the earlier attempts is counted by the run that made
it only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.constants import CONFIG_KEY_CHECKPOINTER

from subagents.nodes.persistent import own_thread
from subagents.nodes.plan import ChildLink
from subagents.runtime.call import CallInfo
from subagents.runtime.steps import Both
from subagents.runtime.upstream import CONFIG_KEY_RESUMING, skip_subgraph_runs

__all__ = ["AttemptLog"]

_NS = "retry"
_CHANNEL = "subagents_attempts"


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """Where one delegation node records its retry loop: a checkpoint namespace of its own.

    Attributes:
        saver: the parent run's checkpointer.
        where: ``{"configurable": {"thread_id", "checkpoint_ns"}}`` of the record.
        node: the delegation node's config (its scratchpad numbers its subgraph runs);
            None for a background child's log.
        resuming: the node runs in a resumed run (LangGraph's flag).
    """

    saver: BaseCheckpointSaver[Any]
    where: RunnableConfig
    node: RunnableConfig | None
    resuming: bool

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

    def record(self, attempt: int, errors: list[str]) -> Both:
        """Write that attempt ``attempt`` runs next, after ``errors`` (a request: ``None``)."""
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {_CHANNEL: {"attempt": attempt, "errors": list(errors)}}
        checkpoint["channel_versions"] = {_CHANNEL: attempt}  # rising: savers keep one blob each
        metadata: Any = {"source": "update", "step": attempt, "parents": {}}
        versions: dict[str, str | int | float] = {_CHANNEL: attempt}
        return Both(lambda: self.saver.put(self.where, checkpoint, metadata, versions),
                    lambda: self.saver.aput(self.where, checkpoint, metadata, versions))

    def recall(self) -> Both:
        """Read the record (a request: ``(attempt, errors)`` or None when there is none)."""
        return Both(lambda: _read(self.saver.get_tuple(self.where)),
                    lambda: _aread(self.saver.aget_tuple(self.where)))

    def resume_at(self, attempt: int) -> None:
        """Skip the subgraph run numbers of attempts ``1 .. attempt - 1`` (not run again)."""
        if self.node is not None:
            skip_subgraph_runs(dict(self.node), attempt - 1)


async def _aread(pending: Any) -> tuple[int, list[str]] | None:
    return _read(await pending)


def _read(found: Any) -> tuple[int, list[str]] | None:
    record = found.checkpoint["channel_values"].get(_CHANNEL) if found is not None else None
    if not isinstance(record, dict):
        return None
    attempt, errors = record.get("attempt"), record.get("errors")
    if (not isinstance(attempt, int) or not isinstance(errors, list)
            or len(errors) != attempt - 1 or not all(isinstance(e, str) for e in errors)):
        return None
    return attempt, errors
