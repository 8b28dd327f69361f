"""A delegation's child run, to its end: events, attempts, timeout, the child's ``Ending``.

Part of the delegation node (``nodes.child_call``), also run by a background job
(``child_call.spawn_background``) and a re-attached background child (``nodes.reattach``):

1. :func:`run_child`: ``subagent_start``, the attempts under the child's ``Agent.retry``
   (``nodes.retry.attempts``; one attempt in line without a policy), ``subagent_end``.
2. :func:`_attempt`: one run of the child within its ``Agent.timeout`` (a ``RunChild``
   request; without a timeout the run is part of the step), its final state read into an
   ``Ending`` (``nodes.ending.read_ending``).
3. :func:`_child_run`: the child's graph, as a subgraph of the node or on its own
   checkpoint thread (a persistent child, a background child on a checkpointer thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from langchain_core.messages import ToolCall
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from subagents.checkpoints.errors import is_storage_error
from subagents.nodes._attempt_log import AttemptLog
from subagents.nodes._emit import Emitter
from subagents.nodes.ending import read_ending
from subagents.nodes.persistent import own_thread, persistent_run
from subagents.nodes.plan import ChildLink
from subagents.nodes.retry import Attempt, RunChild, attempts, crashed, timed_out
from subagents.results import Ending, Status
from subagents.runtime.call import CALL_KEY, SCOPE_KEY, CallInfo, Stopped
from subagents.runtime.scope import scope_of
from subagents.runtime.steps import Invoke, Step

__all__ = ["INTERRUPT_BEFORE_KEY", "Home", "run_child"]

INTERRUPT_BEFORE_KEY = "subagents_interrupt_before"
"""``configurable`` key: breakpoints inside sub-agents, as ``"<agent>:<node>"`` strings
(``["critic:model", "search:tools"]``); LangGraph's own ``interrupt_before`` only reaches the
top graph. Set it in a run's config, or in an assistant's config on a LangGraph server."""

Home = Callable[[], tuple[Emitter, RunnableConfig]]
"""The parent's side of a delegation, looked up when needed: its emitter and config."""


def run_child(link: ChildLink, tc: ToolCall, task: dict[str, Any], call: CallInfo,
              home: Home, resumed: bool = False) -> Step[Ending]:
    """Run the child to its end: its attempts, with ``subagent_*`` events on ``home()``.

    ``resumed``: a background child re-attached after a restart (its attempts go on from
    its log, ``nodes._attempt_log``).

    A background child's parent run changes when a resumed run adopts its table: ``home()``
    then gives the resumed run's side.

    Raises:
        GraphBubbleUp: an interrupt inside the child (the run pauses).
        asyncio.CancelledError: the delegation was cancelled (recorded ``cancelled``).
    """
    home()[0].child_start(link.path, tc, call.objective, call.background)
    try:
        if link.agent.retry is None:  # one attempt: no retry loop, no log
            ending = (yield from _attempt(link, task, call, home)).ending
        else:
            ending = yield from attempts(
                link.agent.retry, call, lambda: _attempt(link, task, call, home),
                lambda c, failed, delay: home()[0].child_retry(link.path, tc, c, failed, delay),
                AttemptLog.for_call(link, call, home()[1], resumed), lambda: _deadline(home))
    except BaseException as exc:
        _aborted(link, tc, call, home()[0], exc)
        raise
    home()[0].child_end(link.path, tc, ending, call)
    return ending


def _deadline(home: Home) -> tuple[float, float] | None:
    """The parent's budgets' ``max_seconds`` deadline (``nodes.retry.Deadline``), if any."""
    scope = scope_of(home()[1])
    tracker = scope.budget if scope is not None else None
    return tracker.deadline() if tracker is not None else None


def _attempt(link: ChildLink, task: dict[str, Any], call: CallInfo,
             home: Home) -> Step[Attempt]:
    """One attempt: the child's run within its timeout, read into an ``Ending``.

    A sync attempt that timed out may still be running, told to stop (``call.stopped``):
    the next one runs on a record of its own (the same ``serial`` and ``attempt``: its
    scope is found through ``call`` too).
    """
    own = replace(call, stopped=False) if call.stopped else call
    config, timeout = home()[1], link.agent.timeout
    try:
        if timeout is None:  # no deadline: the child's run is part of this step
            state, late = (yield from _child_run(link, task, own, config)), False
        else:
            state, late = yield RunChild(partial(_child_run, link, task, own, config), timeout,
                                         own)
        if late:
            assert timeout is not None
            parent = scope_of(config)
            return Attempt(timed_out(parent.child(own) if parent else None, timeout))
        if isinstance(state, str):  # the run could not start (a persistent child's thread)
            return Attempt(Ending(Status.FAILED, None, state))
        return Attempt(read_ending(link.agent, state))
    except BaseException as exc:
        return crashed(exc)


def _child_run(link: ChildLink, task: dict[str, Any], call: CallInfo,
               config: RunnableConfig) -> Step[Any]:
    """The child's run: on its own thread when persistent, else as a subgraph."""
    graph = link.graph
    assert graph is not None
    if link.agent.persistent and link.agent.remote is None:
        return (yield from persistent_run(graph, link, task, call, config))
    if call.background and (thread := own_thread(link, call, config)) is not None:
        return (yield from persistent_run(graph, link, task, call, config, thread))
    run, bound = link.runnable()
    return (yield Invoke(run, task, _child_config(link, call, config, bound),
                         _breakpoints(link, config)))


def _child_config(link: ChildLink, call: CallInfo, config: RunnableConfig,
                  bound: RunnableConfig) -> RunnableConfig:
    """The child run's config: ``bound`` (its graph's own: ``ChildLink.runnable``), the call's.

    Merged here as LangGraph would merge them (``ensure_config(graph.config, config)``):
    the call's keys win, its metadata adds ``subagents_tool_call_id`` after the graph's.
    """
    # Each graph counts its own supersteps: two per model step, plus the forced last call.
    conf: dict[str, Any] = {CALL_KEY: call}
    if call.background:  # the table's owner now: a resumed run's after an adoption
        conf[SCOPE_KEY] = config.get("configurable", {}).get(SCOPE_KEY)
    return {**bound, "recursion_limit": 2 * link.agent.max_steps + 6, "configurable": conf,
            "metadata": {**bound.get("metadata", {}), "subagents_tool_call_id": call.tool_call_id}}


def _breakpoints(link: ChildLink, config: RunnableConfig) -> dict[str, Any]:
    """``interrupt_before`` for this child from ``INTERRUPT_BEFORE_KEY`` (empty if none)."""
    wanted = config.get("configurable", {}).get(INTERRUPT_BEFORE_KEY) or ()
    prefix = f"{link.agent.name}:"
    nodes = [str(w)[len(prefix):] for w in wanted if str(w).startswith(prefix)]
    return {"interrupt_before": nodes} if nodes else {}


def _aborted(link: ChildLink, tc: ToolCall, call: CallInfo, emit: Emitter,
             exc: BaseException) -> None:
    """Record a delegation an exception ends (during an attempt or between attempts).

    Cancellation and ``Stopped`` end it ``cancelled``, other ``BaseException`` s ``failed``
    (a ``subagent_end`` event); interrupts and storage failures are not recorded (the run
    pauses or fails and a resume runs the delegation again).
    """
    if isinstance(exc, GraphBubbleUp) or is_storage_error(exc):
        return
    cancelled = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | Stopped)
    ending = (Ending(Status.CANCELLED, None, "cancelled") if cancelled
              else Ending(Status.FAILED, None, f"{type(exc).__name__}: {exc}"))
    emit.child_end(link.path, tc, ending, call)


