"""The upstream names no public API serves: LangGraph's and LangChain's private ones, here only.

Everything else of LangGraph and LangChain is imported from their public modules. The names
below live in private modules (``langgraph._internal``, ``langgraph.pregel._messages``,
``langchain_core.tracers._streaming``), which a release may move or change without notice;
the rest of the package imports them from here, and ``tests/test_upstream.py`` checks each
one (that it exists, and that it still does what this package relies on), so an upstream
release that moves one fails that test first, naming it.

Two functions reach LangChain's private tool hook (``BaseTool._arun``) the same way:
:func:`wrap_async_impl` and :func:`has_async_impl`; one LangGraph's numbering of the subgraph
runs of a node's task: :func:`skip_subgraph_runs`.

``CONFIG_KEY_CHECKPOINTER`` is public (``langgraph.constants``) and is imported from there.
``RemoteGraph``'s clients are its public ``client``/``sync_client`` attributes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, Tool

# The marker a chat model checks (``BaseChatModel._should_stream``) to stream when one of
# its handlers wants tokens (``text_delta`` events); LangChain's public tracers
# (``LogStreamCallbackHandler``) carry it too, but are whole tracers, not a marker.
from langchain_core.tracers._streaming import (
    _StreamingCallbackHandler as StreamingCallbackHandler,
)

# Keys of a node's ``config["configurable"]`` that LangGraph fills for the node's run.
from langgraph._internal._constants import (
    # The durability mode of the run. A persistent child runs on its own thread with a
    # config of its own (LangGraph's parent config would attach it to the parent's thread),
    # so the caller's mode is copied by hand; no public getter exists.
    CONFIG_KEY_DURABILITY,
    # The resume values a ``Command(resume={interrupt_id: value})`` carries. A persistent
    # child's interrupts are answered from the parent's resume; ``interrupt()`` (public)
    # would consume the value as the parent node's own interrupt.
    CONFIG_KEY_RESUME_MAP,
    # Set by a parent graph that resumes a graph nested in one of its nodes (LangGraph tells
    # a subgraph so through it; no public getter): a root agent run as a pipeline step
    # (``delegate_node``) learns that its own checkpoint is being resumed.
    CONFIG_KEY_RESUMING,
    # The node's ``Runtime`` (context, store). ``get_runtime()`` reads it from the ambient
    # config only; a persistent child's explicit config must carry context and store on,
    # without the parent's stream and run.
    CONFIG_KEY_RUNTIME,
    # The task's scratchpad: a bare ``Command(resume=value)`` for one pending interrupt is
    # read with ``get_null_resume``; no public API gives it to code outside ``interrupt()``.
    CONFIG_KEY_SCRATCHPAD,
    # The run's stream (a ``StreamProtocol``: callable, with ``modes``). Public is only
    # ``get_stream_writer()``, which writes as the current node; the runtime needs the stream
    # itself: to relay a remote child's chunks under their own namespaces, to hand a
    # resumed run's stream to the background children it adopted, and to ask whether the
    # run streams ``custom`` at all (no events are built when nobody listens).
    CONFIG_KEY_STREAM,
)

# A node runnable with a sync and an async function and no tracing (``trace=False``).
# ``RunnableLambda`` (public) always traces a run of its own and inspects the function;
# pipeline nodes must look like LangGraph's own nodes in traces and streams.
from langgraph._internal._runnable import RunnableCallable

# The callback handler LangGraph attaches for ``stream_mode="messages"``. A persistent
# child detached onto its own thread must not leak its model tokens into the parent's
# ``messages`` stream: the handler is removed from the callbacks passed on. It has no
# public name (``langgraph.graph.message`` imports it privately too).
from langgraph.pregel._messages import StreamMessagesHandler

AsyncImpl = Callable[..., Awaitable[Any]]
"""A tool's async implementation: ``BaseTool._arun(*args, config=..., run_manager=...)``."""

__all__ = [
    "CONFIG_KEY_DURABILITY",
    "CONFIG_KEY_RESUME_MAP",
    "CONFIG_KEY_RESUMING",
    "CONFIG_KEY_RUNTIME",
    "CONFIG_KEY_SCRATCHPAD",
    "CONFIG_KEY_STREAM",
    "RunnableCallable",
    "StreamMessagesHandler",
    "AsyncImpl",
    "StreamingCallbackHandler",
    "has_async_impl",
    "skip_subgraph_runs",
    "wrap_async_impl",
]


# A tool's async implementation is ``BaseTool._arun``: the method ``ainvoke`` awaits inside
# the task LangChain runs the tool in. It is the only place where code can run in that task
# (``StructuredTool.coroutine`` is public, but other tools have no such field).


def wrap_async_impl(tool: BaseTool, wrap: Callable[[AsyncImpl], AsyncImpl]) -> BaseTool:
    """A copy of ``tool`` whose async implementation is ``wrap(original)``.

    The copy's ``_arun`` is an instance attribute (the class's is untouched) with the
    original's signature, so LangChain still passes ``config`` / ``run_manager`` to it.

    Args:
        tool: any LangChain tool.
        wrap: builds the new implementation from the original one.

    Returns:
        The copy (``tool.model_copy()``); ``tool`` itself is unchanged.
    """
    copy = tool.model_copy()
    inner: AsyncImpl = getattr(copy, "_arun")  # noqa: B009  (the private hook)
    object.__setattr__(copy, "_arun", functools.wraps(inner)(wrap(inner)))
    return copy


def has_async_impl(tool: BaseTool) -> bool:
    """Whether ``tool`` has an async implementation of its own.

    Without one LangChain's ``ainvoke`` runs the sync one in an executor thread.
    """
    if isinstance(tool, StructuredTool | Tool):
        return tool.coroutine is not None or type(tool)._arun not in (
            StructuredTool._arun, Tool._arun)
    return type(tool)._arun is not BaseTool._arun


def skip_subgraph_runs(config: dict[str, Any], count: int) -> None:
    """Count ``count`` runs of subgraphs inside the task of ``config`` as if they had run.

    LangGraph numbers the subgraph runs of one node's task (the scratchpad's private
    ``subgraph_counter``): the first runs at the task's ``checkpoint_ns``, the ``k``-th after
    it at ``<checkpoint_ns>|<k - 1>``, so a resumed node finds each run's checkpoints again
    by running its subgraphs in the same order. A node that does not run again the runs it
    knows finished (a retried delegation's failed attempts) skips their numbers here, so its
    next run resumes its own namespace. Without a scratchpad (not in a node) it does nothing.
    """
    pad = config.get("configurable", {}).get(CONFIG_KEY_SCRATCHPAD)
    counter = getattr(pad, "subgraph_counter", None)
    for _ in range(count if callable(counter) else 0):
        counter()  # type: ignore[misc]
