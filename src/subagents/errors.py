"""Exceptions raised by subagents: every one derives from :class:`SubagentsError`.

Hierarchy (the public errors are defined here; the others live beside the code that raises
and catches them, and never reach a caller)::

    SubagentsError (Exception)
    ├── SpecError (ValueError)       a team or agent spec is invalid (names the field)
    │   └── TeamFileError            ... in a team file: carries the file and line
    ├── EventLogError                the event log could not write some events
    ├── ModelResolutionError (ValueError)   no chat model could be resolved for an agent
    ├── ModelEndpointError (RuntimeError)   a model endpoint did not answer (names the URL)
    ├── LocalModelError (RuntimeError)      the embedded llama.cpp server or its weights failed
    ├── MCPServerError (RuntimeError)       an MCP server did not start (``subagents.tools.mcp``)
    ├── NothingToResume (ValueError, LangGraph's EmptyInputError)
    │                                       a resume of a thread that has no checkpoint
    ├── RemoteAgentError             a remote sub-agent could not run or finish
    │                                (``subagents.subgraphs.remote``; its delegation is ``failed``)
    ├── DeliveryError                a delivery target refused (``subagents.dispatch.delivery``)
    ├── ScriptExhaustedError (AssertionError)   a scripted test model ran out of steps
    │                                (``subagents.testing``)
    ├── SchemaError (ValueError)     a team file's JSON Schema cannot become a model
    │                                (``subagents.teams``; reported as a TeamFileError)
    │   internal: raised and caught inside one delegation, never reaching a caller
    ├── Stopped                      a sync child's delegation stopped waiting (runtime.call)
    ├── BudgetDeadline               a budget's max_seconds passed in a block (runtime.budget)
    ├── OverBudget                   a foreign graph's model call past the budget
    │                                (subgraphs._graph_usage)
    ├── SubagentFailed               a failed attempt as ``retry_on`` sees it (nodes.retry)
    │   └── SubagentTimeout          ... an attempt still running at ``Agent.timeout``
    ├── SyncTimeoutError, _Retry     a sync child's timeout; a retried attempt (nodes.retry)
    ├── ToolExit, ToolTimeout        a tool that exited; one past its timeout (nodes._toolcall)
    └── ToolPathError                a file tool's path refused (tools._paths)

The standard bases let callers catch them as usual, and let a LangGraph server show their
message to its client (it hides the message of other exception types). The internal ones have
no standard base: LangGraph's ``default_retry_on`` must keep retrying ``SubagentFailed``.
``tests/test_errors.py`` checks that every exception class of the package is a
``SubagentsError``.

Runtime endings of a sub-agent (failed, max_steps, ...) are never raised to the parent:
they reach the parent model as a typed tool result (see ``subagents.results``).
"""

from __future__ import annotations

from langgraph.errors import EmptyInputError

__all__ = [
    "EventLogError",
    "LocalModelError",
    "MCPServerError",
    "MissingThreadId",
    "ModelEndpointError",
    "ModelResolutionError",
    "NothingToResume",
    "SpecError",
    "SubagentsError",
    "TeamFileError",
]


class SubagentsError(Exception):
    """Base class of every error this package raises."""


class SpecError(SubagentsError, ValueError):
    """An agent or team spec is invalid.

    The message names the agent and the field (for example ``agent 'dev': field
    'subagents': unknown agent 'serch'``) and says how to fix it.
    """


class TeamFileError(SpecError):
    """A team file (or team mapping) is invalid, too large, too deep or not allowed.

    The message starts with ``FILE:LINE:`` (just ``FILE:`` when no line applies, e.g. a
    missing file).

    Attributes:
        file: the file name as given (``<mapping>`` for an in-memory team).
        line: the 1-based line the error is about, or None.
    """

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line


class EventLogError(SubagentsError):
    """The event log (``subagents.checkpoints.events_log.EventLog``) failed to write events.

    The other events of the run were written; the message says how many were lost and why.
    """


class ModelResolutionError(SubagentsError, ValueError):
    """No chat model could be resolved for an agent (see ``subagents.models``)."""


class ModelEndpointError(SubagentsError, RuntimeError):
    """A model endpoint failed after every try: refused, timed out, or sent nothing.

    The message names the base URL, the model, the agent (when known) and the number of tries.
    """


class LocalModelError(SubagentsError, RuntimeError):
    """The embedded local model (llama.cpp server or its GGUF weights) is unusable."""


class MCPServerError(SubagentsError, RuntimeError):
    """An MCP server could not be started or did not complete its handshake.

    Raised by ``subagents.tools.mcp.mcp_tools`` (which re-exports it); the message names the
    server.
    """


class NothingToResume(SubagentsError, ValueError, EmptyInputError):
    """A run was resumed (input ``None``) on a thread that has no checkpoint.

    Nothing ever ran there, or the run was cancelled before its first checkpoint was saved:
    start it again with its input. It is also LangGraph's ``EmptyInputError``, which it
    replaces, so code catching that keeps working.

    Attributes:
        thread_id: the config's ``thread_id`` (None when the config has none).
    """

    def __init__(self, thread_id: str | None) -> None:
        where = f"thread {thread_id!r}" if thread_id is not None else "a config without thread_id"
        super().__init__(f"nothing to resume on {where}: it has no checkpoint (no run started "
                         "there, or it was cancelled before its first checkpoint); start the "
                         "run again with its input")
        self.thread_id = thread_id


class MissingThreadId(SubagentsError, ValueError):
    """A graph with a checkpointer was run with a config that names no thread.

    LangGraph raises its own ``ValueError`` for this; an agent graph adds its run scope to
    ``configurable``, which hid that check, so it raises this one (also a ``ValueError``)
    before the run starts instead of a ``KeyError`` from inside the checkpointer.
    """

    def __init__(self) -> None:
        super().__init__("this graph has a checkpointer: run it with a thread, e.g. "
                         "config={'configurable': {'thread_id': '1'}} (LangGraph needs one of "
                         "thread_id, checkpoint_ns, checkpoint_id in 'configurable')")
