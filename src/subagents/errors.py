"""Exceptions raised by subagents.

Hierarchy::

    SubagentsError (Exception)
    ├── SpecError (ValueError)       a team or agent spec is invalid (names the field)
    ├── ModelResolutionError         no chat model could be resolved for an agent
    ├── LocalModelError              the embedded llama.cpp server or its weights failed
    └── NothingToResume (ValueError, LangGraph's EmptyInputError)
                                     a resume of a thread that has no checkpoint

Runtime endings of a sub-agent (failed, max_steps, ...) are never raised to the parent:
they reach the parent model as a typed tool result (see ``subagents.results``).
"""

from __future__ import annotations

from langgraph.errors import EmptyInputError

__all__ = ["LocalModelError", "ModelResolutionError", "NothingToResume", "SpecError",
           "SubagentsError"]


class SubagentsError(Exception):
    """Base class of every error this package raises."""


class SpecError(SubagentsError, ValueError):
    """An agent or team spec is invalid.

    The message names the agent and the field (for example ``agent 'dev': field
    'subagents': unknown agent 'serch'``) and says how to fix it.
    """


class ModelResolutionError(SubagentsError):
    """No chat model could be resolved for an agent (see ``subagents.models``)."""


class LocalModelError(SubagentsError):
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
