"""``AgentGraph``: a ``CompiledStateGraph`` that opens a run scope around each invocation.

It is LangGraph's compiled graph in every respect (``invoke``, ``astream``, ``get_state``,
checkpointers, the server) and adds one thing: every ``stream``/``astream`` opens a
:class:`~subagents.runtime.scope.RunScope` for the agent, passed to its nodes through the
config, and closes it when the run ends, is closed or is cancelled: background children are
then auto-cancelled and the usage tree records how it ended.

A run that ends PAUSED (a breakpoint, an ``interrupt()``) on a checkpointer thread parks its
background children instead (:mod:`subagents.runtime.parking`): the next invocation of the
same agent on the same thread in this process adopts them (see ``RunScope.adopt``), as does
a root's next turn after one with ``BackgroundConfig(auto_cancel=False)`` that completed.

A resume of a thread that has no checkpoint raises :class:`~subagents.errors.NothingToResume`
naming the thread: input ``None`` instead of LangGraph's ``EmptyInputError`` ("Received no
input for __start__"), and a bare ``Command(resume=...)``, which LangGraph would run as a
new run with no input, when the thread's checkpointer can be asked (before the run starts).

A background child on its own checkpoint thread (``nodes.reattach``) streams under
``<delegation node>:<tool_call_id>`` in its parent's run (``runtime.streaming``); ``get_state``
and ``get_state_history`` at that namespace (or below) read the child's own thread, where
its stream parts came from.

An agent under a ``Budget`` (its own or an ancestor's) that resumes its thread (input None
or a ``Command``: after an ``interrupt()``, an approval pause or a crash; a sub-agent or a
``delegate_node`` step whose node is resumed) starts its budget from the spent counters its
model node wrote to the checkpoint (``budget_spent``), not from zero, plus what the
delegations that finished in the step that paused spent (their ``ToolMessage``'s
``SPENT_METADATA``, in the checkpoint's pending writes); see ``RunScope.restore``. (A
sub-agent in a later attempt of a retry restores at its first model node, without the
finished delegations' spending.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.errors import EmptyInputError, GraphInterrupt
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, PregelTask, StateSnapshot

from subagents.errors import MissingThreadId, NothingToResume
from subagents.nodes.plan import AgentPlan
from subagents.nodes.reattach import reattach, reattaching
from subagents.nodes.state import SPENT_KEY
from subagents.runtime import parking
from subagents.runtime.call import CALL_KEY, SCOPE_KEY, CallInfo
from subagents.runtime.scope import SPENT_METADATA, RunScope, closing, spent_counts
from subagents.runtime.steps import Both, Step, adrive, drive
from subagents.subgraphs._configs import (
    background_thread,
    nested_resume,
    thread_id_of,
    thread_only,
    with_ambient,
)

__all__ = ["AgentGraph"]

_THREAD_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id")  # a checkpointer needs one


class AgentGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """The compiled graph of one agent (see module docstring).

    Attributes:
        subagents_plan: the agent's compile-time plan (spec, ancestry path, children).

    It keeps the strict-msgpack allowlist ``compile`` built through ``copy``/``with_config``
    (``Pregel.__init__`` resets it: an ``output_schema`` in a checkpoint was refused on read).
    """

    def __init__(self, *, subagents_plan: AgentPlan | None = None,
                 _serde_allowlist: set[tuple[str, ...]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subagents_plan, self._serde_allowlist = subagents_plan, _serde_allowlist

    def _open(self, config: RunnableConfig | None, key: parking.ParkKey | None = None,
              ) -> tuple[RunScope | None, RunnableConfig | None]:
        """Open this invocation's scope; ``key`` adopts a paused run's parked table."""
        plan = self.subagents_plan
        if plan is None:
            return None, config
        parent, call, path = _place(plan, config)
        scope = RunScope(agent=plan.agent.name, path=path, parent=parent, call=call,
                         budget=plan.agent.budget, background=plan.background,
                         listener=plan.agent.on_subagent_event,
                         table=parking.adopt(key) if plan.background else None)
        own: RunnableConfig = {**(config or {})}
        own["configurable"] = {**own.get("configurable", {}), SCOPE_KEY: scope}
        own["configurable"].pop(CALL_KEY, None)  # the call is this scope's, not its children's
        if path != plan.path:  # a graph shared by several places in the tree: this one's path
            own["metadata"] = {**(own.get("metadata") or {}), "subagents_path": list(path)}
        return scope, own

    def _resumes(self, scope: RunScope | None, input: Any) -> bool:
        """Whether this run resumes its thread under a budget (its own or an ancestor's).

        Resuming: input None or a ``Command``, or run in a node its parent graph resumes (a
        sub-agent, a ``delegate_node`` step); its spent counters are then read back from the
        checkpoint (one state read).
        """
        if scope is None or scope.budget is None:
            return False
        if input is None or isinstance(input, Command):
            return True
        # A node's k-th subgraph run (a retry's attempt k) checkpoints at a namespace this
        # config does not name yet: such a run restores at its first model node instead.
        return nested_resume() and (scope.call is None or scope.call.attempt == 1)

    def stream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """LangGraph's ``stream`` inside this agent's run scope."""
        scope, config = drive(self._start(input, config, None))
        with closing(scope):
            try:
                yield from super().stream(input, config, **kwargs)
            except EmptyInputError as exc:
                _nothing_to_resume(exc, input, config)
                raise

    async def astream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """LangGraph's ``astream`` inside this agent's run scope.

        Unlike ``stream`` its run can have background children: they are parked for a
        resume when the run ends paused, else settled (see the module doc).
        """
        plan = self.subagents_plan
        key = (parking.park_key(config, _place(plan, config)[2])
               if plan and plan.background else None)
        scope, config = await adrive(self._start(input, config, key, attach=True,
                                                 durability=kwargs.get("durability")))
        error: BaseException | None = None
        try:
            try:
                async for chunk in super().astream(input, config, **kwargs):
                    yield chunk
            except EmptyInputError as exc:
                _nothing_to_resume(exc, input, config)
                raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if scope is not None:
                await self._aclose(scope, config, key, error)

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """LangGraph's ``get_state``; a background child's namespace reads its own thread."""
        return drive(self._state(config, subgraphs))

    async def aget_state(self, config: RunnableConfig, *,
                         subgraphs: bool = False) -> StateSnapshot:
        """LangGraph's ``aget_state``; a background child's namespace reads its own thread."""
        return await adrive(self._state(config, subgraphs))

    def get_state_history(self, config: RunnableConfig, *, filter: dict[str, Any] | None = None,
                          before: RunnableConfig | None = None,
                          limit: int | None = None) -> Iterator[StateSnapshot]:
        """LangGraph's ``get_state_history``; a background child's namespace reads its thread.

        Where the parent's thread has no checkpoint at the config's namespace and that
        namespace names a background child (as in ``get_state``), the history of the
        child's own thread, newest first.
        """
        base = CompiledStateGraph
        own = background_thread(config)
        if own is not None and next(iter(base.get_state_history(self, config, limit=1)),
                                    None) is None:
            config = own
        yield from base.get_state_history(self, config, filter=filter, before=before,
                                          limit=limit)

    async def aget_state_history(self, config: RunnableConfig, *,
                                 filter: dict[str, Any] | None = None,
                                 before: RunnableConfig | None = None,
                                 limit: int | None = None) -> AsyncIterator[StateSnapshot]:
        """LangGraph's ``aget_state_history``; as ``get_state_history``."""
        base = CompiledStateGraph
        own = background_thread(config)
        if own is not None and not [s async for s in base.aget_state_history(self, config,
                                                                             limit=1)]:
            config = own
        async for snapshot in base.aget_state_history(self, config, filter=filter,
                                                      before=before, limit=limit):
            yield snapshot

    def _state(self, config: RunnableConfig, subgraphs: bool) -> Step[StateSnapshot]:
        """The state at ``config`` (a sans-IO step).

        Where the thread has none at the config's namespace and that namespace ends in
        ``<node>:<tool_call_id>``: the state of the background child's own thread
        (``<thread_id>/bg/<tool_call_id>``) if it has one.
        """
        base = CompiledStateGraph
        snapshot: StateSnapshot = yield Both(
            lambda: base.get_state(self, config, subgraphs=subgraphs),
            lambda: base.aget_state(self, config, subgraphs=subgraphs))
        own = background_thread(config) if snapshot.metadata is None else None
        if own is None:
            return snapshot
        found: StateSnapshot = yield Both(
            lambda: base.get_state(self, own, subgraphs=subgraphs),
            lambda: base.aget_state(self, own, subgraphs=subgraphs))
        return found if found.metadata is not None else snapshot

    def _start(self, input: Any, config: RunnableConfig | None, key: parking.ParkKey | None,
               *, attach: bool = False, durability: Any = None,
               ) -> Step[tuple[RunScope | None, RunnableConfig | None]]:
        """Before a run, written once for ``stream`` and ``astream`` (a sans-IO step).

        A checkpointer run with none of ``_THREAD_KEYS`` raises :class:`MissingThreadId`
        (the scope in the config hides LangGraph's check); a bare ``Command(resume=...)`` on
        a thread with no checkpoint raises :class:`NothingToResume`; then the scope opens
        (``key``: adopt a parked table), and a root with a budget resuming its thread
        restores its spent counters.

        Returns:
            ``(scope, config)``: the run's scope (None: no plan) and the config to run with.
        """
        conf = (config or {}).get("configurable") or {}
        if not any(k in conf for k in _THREAD_KEYS) and self._saver(config) is not None:
            raise MissingThreadId
        if (saver := self._resume_saver(input, config)) is not None:
            thread = thread_only(config)
            try:
                found = (yield Both(lambda: saver.get_tuple(thread),
                                    lambda: saver.aget_tuple(thread))) is not None
            except Exception:  # cannot tell (an async-only saver): LangGraph decides
                found = True
            if not found:
                raise NothingToResume(thread_id_of(config))
        scope, config = self._open(config, key)
        plan, own = self.subagents_plan, config or {}
        resumes = self._resumes(scope, input)
        again = attach and reattaching(scope, input, key is None or bool(key[1]))
        if (again and scope is not None and scope.call is not None) or (
                resumes and nested_resume()):
            own = with_ambient(own)  # a resumed nested graph: its thread and namespace
        if resumes or again:
            try:
                snapshot: StateSnapshot | None = yield Both(lambda: self.get_state(own),
                                                            lambda: self.aget_state(own))
            except Exception:  # no checkpointer: nothing to resume from
                snapshot = None
            values: Mapping[str, Any] = snapshot.values if snapshot is not None else {}
            if resumes:
                _restore(scope, values, snapshot.tasks if snapshot is not None else ())
            if again and scope is not None and plan is not None:  # a restart: see reattach
                reattach(scope, plan, values, own, self._saver(own), durability,
                         pending=bool(snapshot and snapshot.next))
        return scope, config

    async def _aclose(self, scope: RunScope, config: RunnableConfig | None,
                      key: parking.ParkKey | None, error: BaseException | None) -> None:
        """Close an async run's scope: park its background table, keep it, or settle it."""
        paused = False
        try:
            paused = key is not None and await self._ended_paused(
                scope, config, error, nested=bool(key[1]))
        finally:
            kept = not paused and _kept_for_next_turn(scope, key, error)
            await scope.aclose(error, key if paused or kept else None, finished=kept)

    def _saver(self, config: RunnableConfig | None) -> BaseCheckpointSaver[Any] | None:
        """The run's checkpointer: the graph's own, or the one its config passes."""
        saver = self.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            saver = (config or {}).get("configurable", {}).get(CONFIG_KEY_CHECKPOINTER)
        return saver if isinstance(saver, BaseCheckpointSaver) else None

    def _resume_saver(self, input: Any, config: RunnableConfig | None,
                      ) -> BaseCheckpointSaver[Any] | None:
        """The saver to ask whether a root's bare ``Command(resume=...)`` has a checkpoint."""
        if not (isinstance(input, Command) and input.resume is not None
                and input.update is None and not input.goto and input.graph is None):
            return None
        configurable = (config or {}).get("configurable", {})
        if configurable.get("checkpoint_ns") or thread_id_of(config) is None:
            return None  # a nested graph's, or no thread: LangGraph decides
        saver = self.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            saver = configurable.get(CONFIG_KEY_CHECKPOINTER)
        return saver if isinstance(saver, BaseCheckpointSaver) else None

    async def _ended_paused(self, scope: RunScope, config: RunnableConfig | None,
                            error: BaseException | None, *, nested: bool) -> bool:
        """Whether a run with background children ended paused, so they are to be parked.

        A nested graph's (``nested``: a ``checkpoint_ns``) pause raises ``GraphInterrupt``;
        the root's is swallowed by LangGraph, so a root that returned is asked for its
        thread's state (one checkpointer read, only when it has background children):
        pending ``next`` nodes mean paused. A ``ParentCommand`` (also a ``GraphBubbleUp``) is
        no pause. Errors of the state read count as "not paused" (nothing to resume).
        """
        if scope.background is None or not scope.background.jobs:
            return False
        if isinstance(error, GraphInterrupt):
            return True
        if error is not None or nested:
            return False
        latest: RunnableConfig = {**(config or {})}
        latest["configurable"] = {k: v for k, v in latest.get("configurable", {}).items()
                                  if k != "checkpoint_id"}
        try:
            state = await self.aget_state(latest)
        except Exception:  # no checkpointer: nothing can resume, nothing to park
            return False
        return bool(state.next)


def _place(plan: AgentPlan, config: RunnableConfig | None,
           ) -> tuple[RunScope | None, CallInfo | None, tuple[str, ...]]:
    """Where an invocation runs: (parent scope, the parent's call, ancestry path).

    A graph is compiled once per (agent, remaining depth) and may run at several places of
    the tree, so a delegated run's path is its parent run's path plus its name; a run that no
    delegation started keeps the compile-time path.
    """
    passed = (config or {}).get("configurable", {})
    ambient = (var_child_runnable_config.get() or {}).get("configurable", {})
    parent = passed.get(SCOPE_KEY) or ambient.get(SCOPE_KEY)
    parent = parent if isinstance(parent, RunScope) else None
    call = passed.get(CALL_KEY) if parent is not None else None
    if not isinstance(call, CallInfo):
        return parent, None, plan.path
    return parent, call, (*parent.usage.path, plan.agent.name) if parent else plan.path


def _kept_for_next_turn(scope: RunScope, key: parking.ParkKey | None,
                        error: BaseException | None) -> bool:
    """Whether a completed root turn keeps its background table for the thread's next turn.

    Only with ``auto_cancel=False`` (its children run on), on a thread (``key``), at the
    root (a nested agent's ``checkpoint_ns`` changes with every call), with children.
    """
    table = scope.background
    return (error is None and key is not None and not key[1] and table is not None
            and bool(table.jobs) and not table.config.auto_cancel)


def _nothing_to_resume(exc: EmptyInputError, input: Any, config: RunnableConfig | None) -> None:
    """Raise :class:`NothingToResume` for LangGraph's "no input" of a resume (input None).

    Returns (the caller re-raises ``exc``) for any other run.
    """
    if input is None and not isinstance(exc, NothingToResume):
        raise NothingToResume(thread_id_of(config)) from exc


def _restore(scope: RunScope | None, values: Mapping[str, Any],
             tasks: Sequence[PregelTask]) -> None:
    """Start a resumed run's budget from the spent counters its checkpoint holds.

    Plus what the delegations that finished in the step that paused spent: their writes
    (``tasks``' results) are not in the checkpoint's values yet, their spending is in their
    ``ToolMessage``'s ``SPENT_METADATA``.
    """
    if scope is None:
        return
    scope.restore(values.get(SPENT_KEY) if isinstance(values, Mapping) else None)
    for task in tasks:
        written = task.result.get("messages") if isinstance(task.result, Mapping) else None
        for msg in written if isinstance(written, list) else ():
            scope.count_again(spent_counts(
                getattr(msg, "response_metadata", {}).get(SPENT_METADATA)))
