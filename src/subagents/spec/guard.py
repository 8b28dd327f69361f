"""The loop guard's settings: when an agent that makes no progress is stopped.

Spec layer only (pydantic, no runtime import); the model node applies it (see
``subagents.nodes._turn.Turn.looping``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoopGuard"]


class LoopGuard(BaseModel):
    """Stops an agent that repeats a tool call without progress.

    The guard fires on a tool call only when the same call (same name, same arguments as
    canonical JSON) already got the same result ``max_repeats`` times in the current task.
    Then none of the reply's calls run (each gets a "not run" result), the agent makes one
    last call without tools and ends ``failed`` with the error "stopped by the loop guard:
    ..." (a schema agent whose last call gives a valid ``final_answer`` ends ``completed``).
    It never fires on ``agent_status``, ``agent_await`` and ``agent_cancel`` (their results
    change over time), nor on a call whose previous identical call ended in an error (a tool
    error, a delegation ``failed`` or ``timeout``): that is a retry, bounded by ``max_steps``,
    budgets and retry policies.

    Example:
        >>> Agent(name="poller", loop_guard=LoopGuard(max_repeats=5))  # doctest: +SKIP
        >>> Agent(name="free", loop_guard=None)  # no loop guard  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_repeats: int = Field(
        default=3, ge=1,
        description="How many times one (tool call, result) pair may occur in a task; the "
        "next identical call is refused and the agent must answer. 1: the first repeat of a "
        "call that gave a result is refused.",
    )
    """How many times one (tool call, result) pair may occur in a task before the next
    identical call is refused (1: the first repeat is refused)."""
