"""Exceptions raised by subagents.

Hierarchy::

    SubagentsError (Exception)
    ├── SpecError (ValueError)       a team or agent spec is invalid (names the field)
    │   └── TeamFileError            ... in a team file: carries the file and line
    ├── EventLogError                the event log could not write some events
    ├── ModelResolutionError (ValueError)   no chat model could be resolved for an agent
    ├── ModelEndpointError (RuntimeError)   a model endpoint did not answer (names the URL)
    ├── LocalModelError (RuntimeError)      the embedded llama.cpp server or its weights failed
    └── NothingToResume (ValueError, LangGraph's EmptyInputError)
                                            a resume of a thread that has no checkpoint

The standard bases let callers catch them as usual, and let a LangGraph server show their
message to its client (it hides the message of other exception types).

Runtime endings of a sub-agent (failed, max_steps, ...) are never raised to the parent:
they reach the parent model as a typed tool result (see ``subagents.results``).
"""

from __future__ import annotations

from langgraph.errors import EmptyInputError

__all__ = [
    "EventLogError",
    "LocalModelError",
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
