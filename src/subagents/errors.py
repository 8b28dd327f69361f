"""Exceptions raised by subagents.

Hierarchy::

    SubagentsError (Exception)
    ├── SpecError (ValueError)       a team or agent spec is invalid (names the field)
    ├── ModelResolutionError         no chat model could be resolved for an agent
    └── LocalModelError              the embedded llama.cpp server or its weights failed

Runtime endings of a sub-agent (failed, max_steps, ...) are never raised to the parent:
they reach the parent model as a typed tool result (see ``subagents.results``).
"""

from __future__ import annotations

__all__ = ["LocalModelError", "ModelResolutionError", "SpecError", "SubagentsError"]


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
