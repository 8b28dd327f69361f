"""Exceptions raised by subagents.

Hierarchy::

    SubagentsError (Exception)
    ├── SpecError (ValueError)       a team or agent spec is invalid (names the field)
    │   └── TeamFileError            ... in a team file: carries the file and line
    ├── EventLogError                the event log could not write some events
    ├── ModelResolutionError         no chat model could be resolved for an agent
    └── LocalModelError              the embedded llama.cpp server or its weights failed

Runtime endings of a sub-agent (failed, max_steps, ...) are never raised to the parent:
they reach the parent model as a typed tool result (see ``subagents.results``).
"""

from __future__ import annotations

__all__ = [
    "EventLogError",
    "LocalModelError",
    "ModelResolutionError",
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


class ModelResolutionError(SubagentsError):
    """No chat model could be resolved for an agent (see ``subagents.models``)."""


class LocalModelError(SubagentsError):
    """The embedded local model (llama.cpp server or its GGUF weights) is unusable."""
