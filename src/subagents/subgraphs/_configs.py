"""Config readers of an ``AgentGraph`` run (helpers of :mod:`subagents.subgraphs.compiled`).

Its thread, its node's ambient config, whether a parent graph resumes it, a background
child's own thread.
"""

from __future__ import annotations

import uuid

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from subagents.runtime.background import background_thread_id
from subagents.runtime.upstream import CONFIG_KEY_RESUMING

__all__ = ["background_thread", "is_task_id", "nested_resume", "thread_id_of", "thread_only",
           "with_ambient"]


def background_thread(config: RunnableConfig) -> RunnableConfig | None:
    """The config of the own thread of the background child a namespace names, or None.

    Each segment ``<node>:<tool_call_id>`` of ``checkpoint_ns`` (``runtime.streaming.
    child_namespace``; LangGraph's own segments end in a task id, a UUID) moves from thread
    ``T`` to the child's thread ``T/bg/<tool_call_id>``; the segments after the last such
    one are the namespace in that thread. None: the namespace names no background child.
    """
    conf = config.get("configurable", {})
    thread, ns = conf.get("thread_id"), str(conf.get("checkpoint_ns") or "")
    if thread in (None, "") or not ns:
        return None
    thread_id, inner, moved = str(thread), list[str](), False
    for segment in ns.split("|"):
        call_id = segment.partition(":")[2]
        if call_id and not is_task_id(call_id):
            thread_id, inner, moved = background_thread_id(thread_id, call_id), [], True
        else:
            inner.append(segment)
    if not moved:
        return None
    own = {k: v for k, v in conf.items() if k not in ("checkpoint_id", "checkpoint_map")}
    own.update(thread_id=thread_id, checkpoint_ns="|".join(inner))
    return {**config, "configurable": own}


def is_task_id(text: str) -> bool:
    """Whether ``text`` is a LangGraph task id (a UUID): a namespace of the thread itself."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def with_ambient(config: RunnableConfig) -> RunnableConfig:
    """A sub-agent's run config with its node's ``configurable`` under it.

    As LangGraph merges it for the run: the thread, ``checkpoint_ns`` and checkpointer of
    the sub-agent's checkpoints.
    """
    ambient = (var_child_runnable_config.get() or {}).get("configurable", {})
    return {**config, "configurable": {**ambient, **config.get("configurable", {})}}


def nested_resume() -> bool:
    """Whether the graph whose node runs this one is resuming (LangGraph's flag for subgraphs)."""
    return bool((var_child_runnable_config.get() or {}).get("configurable", {}).get(
        CONFIG_KEY_RESUMING))


def thread_only(config: RunnableConfig | None) -> RunnableConfig:
    """Only the thread of ``config``, at the root namespace (for the saver's ``get_tuple``)."""
    return {"configurable": {"thread_id": thread_id_of(config), "checkpoint_ns": ""}}


def thread_id_of(config: RunnableConfig | None) -> str | None:
    """The ``thread_id`` of ``config`` as a string, or None."""
    thread_id = (config or {}).get("configurable", {}).get("thread_id")
    return None if thread_id is None else str(thread_id)
