"""Background delegation settings of a parent agent (``Agent(background=...)``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from subagents.spec.delivery import Delivery, Handler, Webhook

__all__ = ["AwaitMode", "BackgroundConfig", "JobDispatcher"]

AwaitMode = Literal["all", "allSettled", "any", "race"]


@runtime_checkable
class JobDispatcher(Protocol):
    """What a parent's runtime calls on ``BackgroundConfig.dispatcher``.

    ``subagents.dispatch.Dispatcher`` is one (the spec layer names the calls, not the class).
    """

    async def submit(self, agent: str, objective: str, *, deliver: Delivery | None = None,
                     origin: Mapping[str, Any] | None = None) -> str:
        """Queue a detached run of registered agent ``agent``; returns its job id.

        Raises:
            SpecError: ``agent`` is not registered.
        """
        ...

    async def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's public state, or None for an unknown id."""
        ...

    async def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel the job; its public state plus ``cancelled``, or None for an unknown id."""
        ...


class BackgroundConfig(BaseModel):
    """Background delegation settings of a parent agent (``Agent(background=...)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    max_concurrent: int | None = Field(
        default=None, ge=1, strict=True,
        description="Children running at once; more wait in FIFO order."
    )
    timeout: float | None = Field(
        default=None, gt=0, strict=True,
        description="Seconds a child may run before it ends 'timeout'."
    )
    auto_cancel: bool = Field(
        default=True, strict=True,
        description="Cancel children still running when the parent run ends (completes, "
        "fails or is cancelled; a pause keeps them, see 'park_ttl'). False: "
        "they run on, and a root run that completes on a checkpointer thread keeps its "
        "table for the thread's next turn (same ids, same process, for 'park_ttl')."
    )
    park_ttl: float = Field(
        default=3600.0, gt=0, strict=True, description="Seconds the children of a run paused on a "
        "checkpointer thread wait for its resume (same process) before they are cancelled; "
        "and seconds a completed turn's table (auto_cancel=False) is kept for the next turn "
        "before it is forgotten (its children are not cancelled).",
    )
    persist: bool | None = Field(
        default=None, strict=True,
        description="None (default): persist on a checkpointer thread (a run with a "
        "checkpointer and a thread_id): each child runs on its own checkpoint thread "
        "('<thread_id>/bg/<tool_call_id>'), its stream parts relayed into the parent's "
        "stream (namespace '<node>:<tool_call_id>'), and the table (ids, agents, objectives, "
        "statuses, results, messages) is kept in the parent's checkpoint, so a new process "
        "continuing the thread re-attaches them. True: the same. False: children run inside "
        "the parent's run and live in its process only (as they do without a checkpointer "
        "thread).",
    )
    tools: tuple[Literal["status", "cancel", "await", "message"], ...] = Field(
        default=("status", "cancel", "await"), description="Lifecycle tools to bind "
        "('message': agent_message(id, text), a follow-up to a running child, opt-in)."
    )
    await_modes: tuple[AwaitMode, ...] = Field(
        default=("all", "allSettled", "any", "race"), description="Modes agent_await offers."
    )
    deliver: Webhook | Handler | None = Field(
        default=None,
        description="Detach background children: they outlive the parent run and their "
        "result goes to this target (needs 'dispatcher').",
    )
    dispatcher: JobDispatcher | None = Field(
        default=None,
        description="A started subagents.dispatch.Dispatcher that runs detached children "
        "durably (the child agents must be registered with it).",
    )

    @model_validator(mode="after")
    def _check_delivery(self) -> BackgroundConfig:
        if self.deliver is not None and self.dispatcher is None:
            msg = "field 'deliver' needs a 'dispatcher' (subagents.dispatch.Dispatcher)"
            raise ValueError(msg)
        return self


