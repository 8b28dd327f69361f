"""Running a persistent sub-agent on its own checkpoint thread (see ``checkpoints.threads``).

:func:`persistent_run` is a sans-IO step (``subagents.runtime.steps``), written once for the
delegation and pipeline nodes' sync and async runs.

The child runs detached from the parent's checkpoint namespace: explicitly configured with
its own ``thread_id`` and the parent's saver (or the agent's persistence factory), with
LangGraph's streaming callbacks filtered out so its messages do not leak into the parent's
``messages`` stream. Calls on one thread are serialised (a lock per thread id). A call whose
task message is already in the thread (a parent resumed after a crash) is resumed if it was
cut short, or answered from the thread if it had finished: no finished child runs twice.

The parent's ``configurable`` values and runtime ``context`` (and store) reach the child as
they reach a fresh child. An ``interrupt()`` inside the child pauses its own thread and is
raised again in the parent's delegation node with the child's interrupt objects (same ids,
same values), so it surfaces at the root like a fresh child's; the resume (``Command(resume=
{id: value})``, or a bare value for a single interrupt) is passed on to the child's thread,
which continues from where it paused, once.

A call cut short between a model reply and its tool results (a timeout, a cancellation)
leaves tool calls with no result in the thread; the next call answers each with an error
``ToolMessage`` before its task message, so the history stays one a chat API accepts.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.errors import GraphInterrupt
from langgraph.pregel.protocol import StreamProtocol
from langgraph.runtime import Runtime
from langgraph.types import Command, Interrupt

from subagents.checkpoints.threads import persistent_thread_id, task_message_id
from subagents.nodes.plan import NUDGE_KEY, ChildLink
from subagents.runtime.background import background_thread_id
from subagents.runtime.call import CALL_KEY, SCOPE_KEY, CallInfo
from subagents.runtime.scope import scope_of
from subagents.runtime.steps import Both, Invoke, Request, Step
from subagents.runtime.streaming import child_namespace, relay, relay_messages
from subagents.runtime.upstream import (
    CONFIG_KEY_DURABILITY,
    CONFIG_KEY_RESUME_MAP,
    CONFIG_KEY_RUNTIME,
    CONFIG_KEY_SCRATCHPAD,
    CONFIG_KEY_STREAM,
    StreamMessagesHandler,
)

__all__ = ["own_thread", "persistent_config", "persistent_run"]

_tlocks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_alocks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())
_guard = threading.Lock()
_OWN_METADATA = frozenset({"lc_agent_name", "subagents_path", "thread_id", "checkpoint_ns",
                           "checkpoint_id", "run_id"})
_OWN_CONFIGURABLE = frozenset({"thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map"})
_CUT = ("Error: not answered: the call that made this tool call was cut short (a timeout or "
        "a cancellation) before its result was recorded.")


def persistent_config(link: ChildLink, call: CallInfo, config: RunnableConfig,
                      thread_id: str | None = None) -> RunnableConfig | str:
    """The child's own config (thread, saver, callbacks), or an error text.

    ``thread_id``: a thread of the parent's saver to run on (a background child's) instead
    of the persistent one; its events still reach the parent run's ``custom`` stream.
    """
    conf = config.get("configurable", {})
    factory, background = link.agent.persistence, thread_id is not None
    if background:
        saver = conf.get(CONFIG_KEY_CHECKPOINTER)
    elif factory is not None:
        saver, thread_id = factory(link.agent, config)
    else:
        saver, parent = conf.get(CONFIG_KEY_CHECKPOINTER), conf.get("thread_id")
        if parent is None:
            return (f"persistent sub-agent '{link.agent.name}' needs a thread: run the parent "
                    "with a checkpointer and configurable.thread_id, or give it a persistence "
                    "factory")
        thread_id = persistent_thread_id(str(parent), link.agent.name)
    if saver is None:
        return (f"persistent sub-agent '{link.agent.name}' has no checkpointer: compile with "
                "compile_agent(checkpointer=...) or give it a persistence factory")
    own: dict[str, Any] = {k: v for k, v in conf.items()  # the caller's own values
                           if not k.startswith("__") and k not in _OWN_CONFIGURABLE}
    own.update({"thread_id": thread_id, CONFIG_KEY_CHECKPOINTER: saver, CALL_KEY: call,
                SCOPE_KEY: conf.get(SCOPE_KEY)})
    stream, callbacks = conf.get(CONFIG_KEY_STREAM), _without_streaming(config.get("callbacks"))
    if background and stream is not None:  # its parts as if it ran in the parent's run
        own[CONFIG_KEY_STREAM] = relayed = relay(stream, child_namespace(
            conf.get("checkpoint_ns"), link.node, call.tool_call_id))
        callbacks = relay_messages(callbacks, relayed) if "messages" in stream.modes else callbacks
    elif thread_id is not None and stream is not None and "custom" in stream.modes:
        own[CONFIG_KEY_STREAM] = StreamProtocol(stream, {"custom"})  # events, not its state
    runtime = conf.get(CONFIG_KEY_RUNTIME)
    if isinstance(runtime, Runtime):  # context and store, not the parent's stream or run
        own[CONFIG_KEY_RUNTIME] = Runtime(context=runtime.context, store=runtime.store)
    if CONFIG_KEY_DURABILITY in conf:  # the caller's durability mode holds for the child too
        own[CONFIG_KEY_DURABILITY] = conf[CONFIG_KEY_DURABILITY]
    return {"configurable": own, "callbacks": callbacks,
            "recursion_limit": 2 * link.agent.max_steps + 6,
            "metadata": {**{k: v for k, v in (config.get("metadata") or {}).items()
                            if k not in _OWN_METADATA and not k.startswith("langgraph_")},
                         **({"subagents_tool_call_id": call.tool_call_id} if background else {})}}


def _without_streaming(callbacks: Any) -> Any:
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        keep = [h for h in manager.handlers if not isinstance(h, StreamMessagesHandler)]
        manager.set_handlers(keep, inherit=True)
        return manager
    if isinstance(callbacks, list):
        return [h for h in callbacks if not isinstance(h, StreamMessagesHandler)]
    return callbacks


def _mine(call: CallInfo) -> str:
    """The task message id of this call's attempt (``#<n>`` from the second, Agent.retry)."""
    mine = task_message_id(call.tool_call_id)
    return mine if call.attempt == 1 else f"{mine}#{call.attempt}"


def _task(task: dict[str, Any], call: CallInfo, kept: list[AnyMessage]) -> dict[str, Any]:
    """The new call's input: its task message, after answers to the thread's cut-short calls.

    An earlier call cut short between a model reply and its tool results (a timeout, a
    cancellation) left tool calls with no ``ToolMessage``; chat APIs reject such a history,
    so each one is answered first with an error result saying so.
    """
    message = task["messages"][0]
    tagged = HumanMessage(content=message.content, id=_mine(call))
    return {"messages": [*_unanswered(kept), tagged]}


def _unanswered(kept: list[AnyMessage]) -> list[ToolMessage]:
    """Error results for the tool calls of the thread's last model reply that have none."""
    last = next((i for i in range(len(kept) - 1, -1, -1) if isinstance(kept[i], AIMessage)), None)
    if last is None:
        return []
    reply = kept[last]
    assert isinstance(reply, AIMessage)
    answered = {m.tool_call_id for m in kept[last + 1:] if isinstance(m, ToolMessage)}
    return [ToolMessage(content=_CUT, tool_call_id=tc["id"] or "", name=tc["name"],
                        status="error")
            for tc in reply.tool_calls if tc["id"] not in answered]


def _plan(values: dict[str, Any], next_nodes: tuple[str, ...], call: CallInfo,
          ) -> tuple[str, dict[str, Any] | None]:
    """('run' | 'resume' | 'done', the finished call's own state for 'done')."""
    messages: list[AnyMessage] = list(values.get("messages", []))
    mine = _mine(call)
    index = next((i for i, m in enumerate(messages) if m.id == mine), None)
    if index is None:
        return "run", None
    if next_nodes:
        return "resume", None
    end = next((j for j in range(index + 1, len(messages))
                if isinstance(messages[j], HumanMessage)
                and not messages[j].additional_kwargs.get(NUDGE_KEY)), len(messages))
    return "done", {**values, "messages": messages[index:end]}


def _answers(pending: tuple[Interrupt, ...], config: RunnableConfig) -> dict[str, Any] | None:
    """The resume values the parent's run was given for the child's pending interrupts.

    By interrupt id (``Command(resume={id: value})``), or a bare ``Command(resume=value)``
    for a single pending interrupt; None when none is answered (the run pauses again).
    """
    conf = config.get("configurable", {})
    given = conf.get(CONFIG_KEY_RESUME_MAP) or {}
    answers = {i.id: given[i.id] for i in pending if i.id in given}
    pad = conf.get(CONFIG_KEY_SCRATCHPAD)
    if not answers and len(pending) == 1 and pad is not None:
        value = pad.get_null_resume(True)
        if value is not None:
            answers = {pending[0].id: value}
    return answers or None


def _input(snap: Any, task: dict[str, Any], call: CallInfo,
           config: RunnableConfig) -> tuple[Any, dict[str, Any] | str | None]:
    """The child's input for this call: ``(input, None)`` or ``(None, state or error)``.

    ``state`` is a finished call's own state; ``error`` says why the call cannot run.

    Raises:
        GraphInterrupt: the child waits on interrupts this run has no answer for.
    """
    # a crash right after the input checkpoint leaves no ``next``, only the start task
    action, done = _plan(snap.values, snap.next or tuple(t.name for t in snap.tasks), call)
    if done is not None:
        return None, done
    if action == "run" and snap.interrupts:
        return None, (f"persistent sub-agent is waiting for an answer to an interrupt of "
                      f"another call ({len(snap.interrupts)} pending); call it again after "
                      "that call is resumed")
    if action == "run":
        return _task(task, call, list(snap.values.get("messages", []))), None
    pending = tuple(snap.interrupts or ())
    if not pending:  # cut short (a crash, a breakpoint): go on from the last step
        return None, None
    answers = _answers(pending, config)
    if answers is None:
        raise GraphInterrupt(pending)
    return Command(resume=answers), None


def _surface(out: dict[str, Any]) -> dict[str, Any]:
    """The child's final state; its pause re-raised in the parent (same interrupts)."""
    pending = out.get("__interrupt__")
    if pending:
        raise GraphInterrupt(tuple(pending))
    return out


def persistent_run(graph: Runnable[Any, Any], link: ChildLink, task: dict[str, Any],
                   call: CallInfo, config: RunnableConfig,
                   thread_id: str | None = None) -> Step[dict[str, Any] | str]:
    """Run (or resume, or read) one call of a persistent child: its state or an error text.

    A sans-IO step (``subagents.runtime.steps``): the thread's lock, the checkpoint lookup
    and the run are requests, done sync or async by the driver.

    Args:
        graph: the child's compiled graph.
        link: the child's link (its spec).
        task: the child's input (``{"messages": [task message]}``).
        call: the delegation's record (its tool call id and attempt number).
        config: the delegation node's config.
        thread_id: run on this thread of the parent's saver (a background child's own
            thread) instead of the persistent one.

    Returns:
        The call's own final state, or why the call cannot run.

    Raises:
        GraphInterrupt: the child paused on an interrupt this run has no answer for.
    """
    cfg = persistent_config(link, call, config, thread_id)
    if isinstance(cfg, str):
        return cfg
    release = yield _ThreadLock(str(cfg["configurable"]["thread_id"]))
    try:
        ctx = contextvars.copy_context()  # the child is not a subgraph of the delegation node
        ctx.run(var_child_runnable_config.set, None)
        snap = yield _InContext(ctx, Both(lambda: graph.get_state(cfg),  # type: ignore[attr-defined]
                                          lambda: graph.aget_state(cfg)))  # type: ignore[attr-defined]
        inputs, done = _input(snap, task, call, config)
        if done is not None:
            return done
        return _surface((yield _InContext(ctx, Invoke(graph, inputs, cfg))))
    finally:
        release()


@dataclass(frozen=True, slots=True)
class _ThreadLock:
    """Take the lock of one child thread; the request's result releases it.

    A ``threading.Lock`` sync, an ``asyncio.Lock`` per event loop async.
    """

    thread_id: str

    def run(self) -> Callable[[], None]:
        with _guard:
            lock = _tlocks.get(self.thread_id) or _tlocks.setdefault(self.thread_id,
                                                                     threading.Lock())
        lock.acquire()
        return lock.release

    async def arun(self) -> Callable[[], None]:
        key = (id(asyncio.get_running_loop()), self.thread_id)
        with _guard:
            lock = _alocks.get(key) or _alocks.setdefault(key, asyncio.Lock())
        await lock.acquire()
        return lock.release


@dataclass(frozen=True, slots=True)
class _InContext:
    """Do ``request`` in the context ``ctx`` (``ctx.run`` sync, a task with it async)."""

    ctx: contextvars.Context
    request: Request[Any]

    def run(self) -> Any:
        return self.ctx.run(self.request.run)

    async def arun(self) -> Any:
        return await asyncio.create_task(_awaitable(self.request), context=self.ctx)


async def _awaitable(request: Request[Any]) -> Any:
    """``request.arun()`` as a coroutine (what ``asyncio.create_task`` takes)."""
    return await request.arun()


def own_thread(link: ChildLink, call: CallInfo, config: RunnableConfig) -> str | None:
    """The own checkpoint thread of a background child, or None (no checkpointer, no thread).

    Unless the parent has ``BackgroundConfig(persist=False)``; a persistent or remote child
    keeps its own way to run.
    """
    conf = config.get("configurable", {})
    parent, scope = conf.get("thread_id"), scope_of(config)
    table = scope.background if scope is not None else None
    if (table is None or table.config.persist is False or link.agent.persistent
            or link.agent.remote is not None or parent in (None, "")
            or conf.get(CONFIG_KEY_CHECKPOINTER) is None):
        return None
    return background_thread_id(str(parent), call.tool_call_id)
