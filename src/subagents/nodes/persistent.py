"""Running a persistent sub-agent on its own checkpoint thread (see ``checkpoints.threads``).

The child runs detached from the parent's checkpoint namespace: explicitly configured with
its own ``thread_id`` and the parent's saver (or the agent's persistence factory), with
LangGraph's streaming callbacks filtered out so its messages do not leak into the parent's
``messages`` stream. Calls on one thread are serialised (a lock per thread id). A call whose
task message is already in the thread (a parent resumed after a crash) is resumed if it was
cut short, or answered from the thread if it had finished: no finished child runs twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from typing import Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph._internal._constants import CONFIG_KEY_CHECKPOINTER, CONFIG_KEY_DURABILITY
from langgraph.pregel._messages import StreamMessagesHandler

from subagents.checkpoints.threads import persistent_thread_id, task_message_id
from subagents.nodes.plan import NUDGE_KEY, ChildLink
from subagents.scope import CALL_KEY, SCOPE_KEY, CallInfo

__all__ = ["arun_persistent", "persistent_config", "run_persistent"]

_tlocks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_alocks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())
_guard = threading.Lock()
_OWN_METADATA = frozenset({"lc_agent_name", "subagents_path", "thread_id", "checkpoint_ns",
                           "checkpoint_id", "run_id"})


def persistent_config(link: ChildLink, call: CallInfo, config: RunnableConfig,
                      ) -> RunnableConfig | str:
    """The child's own config (thread, saver, callbacks), or an error text."""
    conf = config.get("configurable", {})
    factory = link.agent.persistence
    if factory is not None:
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
    own: dict[str, Any] = {"thread_id": thread_id, CONFIG_KEY_CHECKPOINTER: saver,
                           CALL_KEY: call, SCOPE_KEY: conf.get(SCOPE_KEY)}
    if CONFIG_KEY_DURABILITY in conf:  # the caller's durability mode holds for the child too
        own[CONFIG_KEY_DURABILITY] = conf[CONFIG_KEY_DURABILITY]
    return {"configurable": own, "callbacks": _without_streaming(config.get("callbacks")),
            "recursion_limit": 2 * link.agent.max_steps + 6,
            "metadata": {k: v for k, v in (config.get("metadata") or {}).items()
                         if k not in _OWN_METADATA and not k.startswith("langgraph_")}}


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


def _task(task: dict[str, Any], call: CallInfo) -> dict[str, Any]:
    message = task["messages"][0]
    tagged = HumanMessage(content=message.content, id=_mine(call))
    return {"messages": [tagged]}


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


def run_persistent(graph: Runnable[Any, Any], link: ChildLink, task: dict[str, Any],
                   call: CallInfo, config: RunnableConfig) -> dict[str, Any] | str:
    """Sync: run (or resume, or read) one call of a persistent child; state or error text."""
    cfg = persistent_config(link, call, config)
    if isinstance(cfg, str):
        return cfg
    thread_id = str(cfg["configurable"]["thread_id"])
    with _guard:
        lock = _tlocks.get(thread_id) or _tlocks.setdefault(thread_id, threading.Lock())
    with lock:
        ctx = contextvars.copy_context()
        ctx.run(var_child_runnable_config.set, None)
        snap = ctx.run(graph.get_state, cfg)  # type: ignore[attr-defined]
        action, done = _plan(snap.values, snap.next, call)
        if done is not None:
            return done
        out: dict[str, Any] = ctx.run(graph.invoke, None if action == "resume"
                                      else _task(task, call), cfg)
        return out


async def arun_persistent(graph: Runnable[Any, Any], link: ChildLink, task: dict[str, Any],
                          call: CallInfo, config: RunnableConfig) -> dict[str, Any] | str:
    """Async: run (or resume, or read) one call of a persistent child; state or error text."""
    cfg = persistent_config(link, call, config)
    if isinstance(cfg, str):
        return cfg
    key = (id(asyncio.get_running_loop()), str(cfg["configurable"]["thread_id"]))
    with _guard:
        lock = _alocks.get(key) or _alocks.setdefault(key, asyncio.Lock())
    async with lock:
        ctx = contextvars.copy_context()
        ctx.run(var_child_runnable_config.set, None)
        snap = await asyncio.create_task(graph.aget_state(cfg), context=ctx)  # type: ignore[attr-defined]
        action, done = _plan(snap.values, snap.next, call)
        if done is not None:
            return done
        inputs = None if action == "resume" else _task(task, call)
        out: dict[str, Any] = await asyncio.create_task(graph.ainvoke(inputs, cfg), context=ctx)
        return out
