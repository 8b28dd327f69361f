"""Delegation nodes: one per allowed child, each running the child's compiled subgraph.

The node receives ``{"tool_call": ToolCall}`` through a ``Send``, builds the child's one task
message from the call's arguments (the child sees nothing else), invokes the child graph, and
returns exactly one ``ToolMessage`` holding the typed JSON result. Nothing a child does (an
exception, ``GraphRecursionError``) escapes to the parent, except LangGraph's interrupts
(``GraphBubbleUp``) and cancellation, which must. The child's ``Agent.retry`` and
``Agent.timeout`` apply here, per attempt (see :mod:`subagents.nodes.retry`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, ToolCall
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphBubbleUp

from subagents.checkpoints.errors import is_storage_error
from subagents.nodes._approval import approve_delegation
from subagents.nodes._decide import ending
from subagents.nodes._emit import Emitter
from subagents.nodes._foreign import foreign_outcome
from subagents.nodes._node import AgentNode
from subagents.nodes._refuse import Refusal
from subagents.nodes.persistent import arun_persistent, run_persistent
from subagents.nodes.plan import ChildLink
from subagents.nodes.retry import (
    Attempt,
    OnRetry,
    SyncTimeoutError,
    arun_attempts,
    awaited,
    run_attempts,
    run_within,
    timed_out,
)
from subagents.nodes.schemas import task_message
from subagents.results import Status, tool_result
from subagents.runtime.background import BackgroundTable, Outcome
from subagents.runtime.call import CALL_KEY, SCOPE_KEY, CallInfo, Stopped
from subagents.runtime.scope import RunScope, scope_of
from subagents.spec.background import BackgroundConfig
from subagents.spec.delivery import DELIVERY_KEY, Delivery, run_delivery

__all__ = ["INTERRUPT_BEFORE_KEY", "child_outcome", "make_child_call_node"]


def child_outcome(link: ChildLink, state: dict[str, Any]) -> tuple[Status, Any, str | None]:
    """Read a child's final state: (status, result, error); see ``ending``.

    An own-graph child's (``Agent.from_graph``): see ``nodes._foreign.foreign_outcome``.
    """
    if link.agent.graph is not None:
        return foreign_outcome(link.agent.graph, state)
    last = next((m for m in reversed(state.get("messages", [])) if isinstance(m, AIMessage)),
                None)
    return ending(link.agent, last, state.get("structured_response"))


def _result(link: ChildLink, tc: ToolCall, outcome: Outcome,
            call: CallInfo | None = None) -> dict[str, Any]:
    """The parent's update: one ToolMessage (with ``attempts``/``errors`` under a retry)."""
    status, result, error = outcome
    extra = ({"attempts": call.attempt, "errors": list(call.errors)}
             if call is not None and call.retried else {})
    msg = tool_result(status, link.agent.name, tool_call_id=tc["id"] or "", tool_name=tc["name"],
                      result=result, error=error, **extra)
    return {"messages": [msg]}


def _retried(link: ChildLink, tc: ToolCall, emitter: Callable[[], Emitter]) -> OnRetry:
    """Reports a failed attempt about to be retried (a ``subagent_retry`` event)."""

    def on_retry(call: CallInfo, failed: Outcome, delay: float) -> None:
        emitter().child_retry(link.path, tc, call, failed, delay)

    return on_retry


INTERRUPT_BEFORE_KEY = "subagents_interrupt_before"
"""``configurable`` key: breakpoints inside sub-agents, as ``"<agent>:<node>"`` strings
(``["critic:model", "search:tools"]``); LangGraph's own ``interrupt_before`` only reaches the
top graph. Set it in a run's config, or in an assistant's config on a LangGraph server."""


def _child_config(link: ChildLink, call: CallInfo, config: RunnableConfig) -> RunnableConfig:
    # Each graph counts its own supersteps: two per model step, plus the forced last call.
    conf: dict[str, Any] = {CALL_KEY: call}
    if call.background:  # the table's owner now: a resumed run's after an adoption
        conf[SCOPE_KEY] = config.get("configurable", {}).get(SCOPE_KEY)
    return {"recursion_limit": 2 * link.agent.max_steps + 6, "configurable": conf,
            "metadata": {"subagents_tool_call_id": call.tool_call_id}}


def _breakpoints(link: ChildLink, config: RunnableConfig) -> dict[str, Any]:
    """``interrupt_before`` for this child from ``INTERRUPT_BEFORE_KEY`` (empty if none)."""
    wanted = config.get("configurable", {}).get(INTERRUPT_BEFORE_KEY) or ()
    prefix = f"{link.agent.name}:"
    nodes = [str(w)[len(prefix):] for w in wanted if str(w).startswith(prefix)]
    return {"interrupt_before": nodes} if nodes else {}


def make_child_call_node(link: ChildLink) -> AgentNode:  # noqa: C901
    """Build the sync+async delegation node for one child (named ``link.node``).

    A call with ``background: true`` (on a parent with background delegation) starts the
    child as a background job of the parent's run and returns ``{"status": "running",
    "id": ...}`` at once. ``subagent_start``/``subagent_end`` events are emitted here, on the
    parent's side, with the child's ancestry path. A call answered without running a child
    gets ``failed`` with a refused event pair: invalid arguments (no objective, a ``context``
    that is not a string, failing the child's ``input_schema``), a background call under a
    sync run or without a background table, a detached call the dispatcher rejects (or a
    run's delivery target, ``configurable["subagents_delivery"]``, that is invalid or has no
    dispatcher), a call
    a human rejected. When the parent's ``needs_approval`` names this delegation tool, every
    call (sync, background, detached) first waits for a human (``interrupt()``, see
    ``nodes._approval``); the child starts only after an approval, with any edited objective.
    """
    graph: Runnable[Any, Any] | None = link.graph

    def prepare(tc: ToolCall) -> tuple[dict[str, Any], CallInfo] | str:
        """The child's input and call record, or why the arguments are invalid."""
        message = task_message(link.agent, tc["args"], shared_tool=tc["name"] == "task")
        if isinstance(message, str):
            return message
        background = tc["args"].get("background") is True
        call = CallInfo(tool_call_id=tc["id"] or "", objective=str(message.content),
                        background=background, retried=link.agent.retry is not None)
        return {"messages": [message]}, call

    def admit(tc: ToolCall) -> tuple[ToolCall, tuple[dict[str, Any], CallInfo] | str]:
        """``prepare``, then a human's approval when the parent needs one (edits applied)."""
        prepared = prepare(tc)
        if isinstance(prepared, str) or not link.approval:
            return tc, prepared
        answer = approve_delegation(link.path, tc, prepared[1].objective, prepared[1].background)
        if isinstance(answer, str):
            return tc, answer
        return answer, prepared if answer is tc else prepare(answer)

    def run(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if "tool_calls" in payload:  # the background calls of one turn (see ``_route``)
            return {"messages": [m for tc in payload["tool_calls"]
                                 for m in run({"tool_call": tc}, config)["messages"]]}
        tc: ToolCall = payload["tool_call"]
        emit = Emitter(scope_of(config), config)
        if tc["args"].get("background") is True:  # refused before anyone is asked
            refused = prepare(tc)
            return _refuse(link, tc, emit, refused if isinstance(refused, str) else _NEEDS_ASYNC)
        tc, prepared = admit(tc)
        if isinstance(prepared, str):
            return _refuse(link, tc, emit, prepared)
        task, call = prepared
        assert graph is not None
        emit.child_start(link.path, tc, call.objective, False)

        def attempt() -> Attempt:
            # its own record: a timed-out attempt's stop flag must not stop the next one
            own = CallInfo(call.tool_call_id, call.objective, attempt=call.attempt)
            try:
                return _read(link, run_within(link.agent.timeout, own,
                                              lambda: _invoke(own, config))), None
            except SyncTimeoutError:
                assert link.agent.timeout is not None
                return timed_out(own, link.agent.timeout), None
            except BaseException as exc:
                return _crashed(exc)
            finally:
                call.scope = own.scope

        def _invoke(own: CallInfo, config: RunnableConfig) -> dict[str, Any] | str:
            assert graph is not None
            if link.agent.persistent and link.agent.remote is None:
                return run_persistent(graph, link, task, own, config)
            out: dict[str, Any] = graph.invoke(task, _child_config(link, own, config),
                                               **_breakpoints(link, config))
            return out

        try:
            result = run_attempts(link.agent.retry, call, attempt,
                                  _retried(link, tc, lambda: emit))
        except BaseException as exc:
            _aborted(link, tc, call, emit, exc)
            raise
        emit.child_end(link.path, tc, result, call.scope, call)
        return _result(link, tc, result, call)

    async def outcome(tc: ToolCall, task: dict[str, Any], call: CallInfo,
                      emitter: Callable[[], tuple[Emitter, RunnableConfig]]) -> Outcome:
        """Run the child; ``emitter()`` gives the parent's side (emitter, config) when needed.

        A background child's parent run changes when a resumed run adopts its table: the
        child then reports to the resumed run.
        """
        emitter()[0].child_start(link.path, tc, call.objective, call.background)

        async def attempt() -> Attempt:
            assert graph is not None
            config = emitter()[1]
            try:
                if link.agent.persistent and link.agent.remote is None:
                    run = arun_persistent(graph, link, task, call, config)
                else:
                    run = graph.ainvoke(task, _child_config(link, call, config),
                                        **_breakpoints(link, config))
                state, late = await awaited(link.agent.timeout, run)
                if late:
                    assert link.agent.timeout is not None
                    return timed_out(call, link.agent.timeout), None
                return _read(link, state), None
            except BaseException as exc:
                return _crashed(exc)

        try:
            result = await arun_attempts(link.agent.retry, call, attempt,
                                         _retried(link, tc, lambda: emitter()[0]))
        except BaseException as exc:
            _aborted(link, tc, call, emitter()[0], exc)
            raise
        emitter()[0].child_end(link.path, tc, result, call.scope, call)
        return result

    async def arun(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if "tool_calls" in payload:  # the background calls of one turn (see ``_route``)
            # every approval first: no child starts before all of them are answered
            admitted = [admit(tc) for tc in payload["tool_calls"]]
            return {"messages": [m for tc, prepared in admitted
                                 for m in (await one(tc, prepared, config))["messages"]]}
        return await one(*admit(payload["tool_call"]), config)

    async def one(tc: ToolCall, prepared: tuple[dict[str, Any], CallInfo] | str,
                  config: RunnableConfig) -> dict[str, Any]:
        scope = scope_of(config)
        emit = Emitter(scope, config)
        if isinstance(prepared, str):
            return _refuse(link, tc, emit, prepared)
        task, call = prepared
        if call.background:
            table = scope.background if scope is not None else None
            if table is None:
                return _refuse(link, tc, emit, _NEEDS_ASYNC)
            conf = config.get("configurable", {})
            target = run_delivery(conf, table.config.deliver)
            if isinstance(target, str):
                return _refuse(link, tc, emit, target)
            if target is not None:
                origin = {"thread_id": conf.get("thread_id"), "tool_call_id": tc["id"],
                          "run_id": conf.get("run_id") or table.owner, "path": list(link.path)}
                return await _detach(link, tc, call, table.config, target, origin, emit)
            return _spawn(link, tc, table, call,
                          lambda: outcome(tc, task, call, lambda: _homed(table, config)))
        return _result(link, tc, await outcome(tc, task, call, lambda: (emit, config)), call)

    return AgentNode(run, arun, name=link.node)


def _refuse(link: ChildLink, tc: ToolCall, emit: Emitter, error: str) -> dict[str, Any]:
    """Answer a call without running a child: a typed ``failed`` result with ``error``.

    Like every refused delegation it gets a ``subagent_start`` / refused ``subagent_end``
    pair at the child's path (built only here, off the path of calls that run).
    """
    if emit.scope is not None:
        emit.refusals([Refusal.of(link.path, tc["id"] or "", tc["args"], Status.FAILED, error)])
    return _result(link, tc, (Status.FAILED, None, error))


async def _detach(link: ChildLink, tc: ToolCall, call: CallInfo, bg: BackgroundConfig,
                  target: Delivery, origin: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    """Hand a background child to the durable dispatcher: it outlives this run.

    ``origin`` (the asking run's thread, run, tool call and the child's path) is delivered
    with the result, so a handler can route it back to that conversation.
    """
    if bg.dispatcher is None:
        return _refuse(link, tc, emit, f"a delivery target ('{DELIVERY_KEY}') needs the "
                       "agent's BackgroundConfig(dispatcher=...)")
    try:
        job_id = await bg.dispatcher.submit(link.agent.name, call.objective, deliver=target,
                                            origin=origin)
    except Exception as exc:  # an unregistered agent or a closed store: a clear result
        return _refuse(link, tc, emit, f"{type(exc).__name__}: {exc}")
    emit.child_start(link.path, tc, call.objective, True)
    msg = tool_result(Status.RUNNING, link.agent.name, tool_call_id=tc["id"] or "",
                      tool_name=tc["name"], id=job_id, detached=True)
    return {"messages": [msg]}


def _read(link: ChildLink, state: dict[str, Any] | str) -> Outcome:
    """The outcome of a finished child run (an error text: the run could not start)."""
    if isinstance(state, str):
        return Status.FAILED, None, state
    return child_outcome(link, state)


def _crashed(exc: BaseException) -> Attempt:
    """The attempt of a child run that raised an ``Exception``: ``failed``, maybe retried.

    What must stop the parent too is re-raised, never retried: interrupts
    (``GraphBubbleUp``), storage failures, cancellation, ``Stopped`` (a timed-out sync
    ancestor) and any other ``BaseException``.
    """
    if (not isinstance(exc, Exception) or isinstance(exc, GraphBubbleUp | Stopped)
            or is_storage_error(exc)):
        raise exc
    return (Status.FAILED, None, f"{type(exc).__name__}: {exc}"), exc


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
    result: Outcome = ((Status.CANCELLED, None, "cancelled") if cancelled
                       else (Status.FAILED, None, f"{type(exc).__name__}: {exc}"))
    emit.child_end(link.path, tc, result, call.scope, call)


_NEEDS_ASYNC = "background delegation needs an async run (ainvoke/astream) and background=True"


def _homed(table: BackgroundTable, config: RunnableConfig) -> tuple[Emitter, RunnableConfig]:
    """The emitter and config of a background child's parent side, looked up now.

    The run owning the table (``table.home``): the resumed one once it adopted the table.
    """
    home: RunScope = table.home
    config = home.rebase(config)
    return Emitter(home, config), config


def _spawn(link: ChildLink, tc: ToolCall, table: BackgroundTable, call: CallInfo,
           start: Callable[[], Awaitable[Outcome]]) -> dict[str, Any]:
    """Start a background child in the parent run's table: ``running`` with its id at once."""
    job = table.spawn(link.agent.name, tc["id"] or "", start, link=call)
    msg = tool_result(Status.RUNNING, link.agent.name, tool_call_id=tc["id"] or "",
                      tool_name=tc["name"], id=job.id)
    return {"messages": [msg]}
