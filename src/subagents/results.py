"""Typed endings of a delegation and the JSON tool result the parent model reads.

Every delegation ends as exactly one ``ToolMessage`` on the parent's side whose content is
one JSON object ``{"status": ..., "agent": ..., "result": ..., "error": ...}``. Python users
read the same data typed through :class:`DelegationResult` (``DelegationResult.from_message``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from langchain_core.messages import BaseMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DelegationResult", "Ending", "Status", "json_text", "tool_result"]


class Status(StrEnum):
    """How a delegation ended (the ``status`` field of the tool result)."""

    COMPLETED = "completed"
    """The child finished and returned its final text or validated output."""
    FAILED = "failed"
    """The child raised, hit its recursion limit, got invalid arguments, broke its schema or
    was stopped by the loop guard (``result``: its forced answer); or the call was not run
    (arguments not JSON, refused by the loop guard, a call beside final_answer)."""
    MAX_STEPS = "max_steps"
    """The child reached ``max_steps`` model calls; ``result`` holds its partial answer."""
    DEPTH_EXCEEDED = "depth_exceeded"
    """A delegation arrived where the remaining depth is 0; nothing was run."""
    UNKNOWN_AGENT = "unknown_agent"
    """The named sub-agent is not in the caller's allow list; nothing was run."""
    FORBIDDEN_TOOL = "forbidden_tool"
    """The named tool was not given to the caller; nothing was run."""
    TIMEOUT = "timeout"
    """The child was still running at its ``Agent.timeout`` (or a background child at its
    ``BackgroundConfig.timeout``) and was cancelled with its descendants."""
    CANCELLED = "cancelled"
    """The child was cancelled (``agent_cancel``, auto-cancel, or the root was cancelled)."""
    OVER_BUDGET = "over_budget"
    """The tree-wide ``Budget`` was exhausted; the model call that would exceed it was not made."""
    RUNNING = "running"
    """A background child that has not settled yet (only in background results)."""

    @property
    def ok(self) -> bool:
        """True for endings that carry a usable result (completed, max_steps)."""
        return self in (Status.COMPLETED, Status.MAX_STEPS)


@dataclass(frozen=True, slots=True)
class Ending:
    """How one child run ended, as the runtime reads it (before it becomes a tool result).

    One type for every kind of child (a local agent, an own graph, a remote graph, a
    pipeline stage, a detached job): the delegation turns it into the parent's
    ``ToolMessage`` (:func:`tool_result`), the dispatcher stores it.

    Attributes:
        status: how it ended.
        result: the final text (``str``), the validated output (a JSON-able ``dict``), or
            None when there is none.
        error: why it did not complete (None when it did).
    """

    status: Status
    result: Any = None
    error: str | None = None


class DelegationResult(BaseModel):
    """The typed form of a delegation's tool result.

    Attributes:
        status: how the delegation ended.
        agent: the sub-agent (or tool) name the call addressed.
        result: the child's final text (``str``), its validated output schema as a JSON
            object (``dict``), or ``None``.
        error: a human- and model-readable reason when ``status`` is not ``completed``.
        attempts: how many attempts ran (1 unless the child has an ``Agent.retry``
            policy; the JSON holds it only then).
        errors: the errors of the attempts that failed, in order (the last one too when
            no attempt succeeded); empty without retries.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    status: Status
    agent: str
    result: Any = None
    error: str | None = None
    attempts: int = 1
    errors: list[str] = Field(default_factory=list)

    @classmethod
    def from_message(cls, message: BaseMessage) -> DelegationResult:
        """Parse a delegation ``ToolMessage`` back into a result.

        Raises:
            ValueError: the message content is not a delegation result object.
        """
        content = message.content if isinstance(message.content, str) else ""
        return cls.model_validate_json(content)


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
"""``json.dumps(payload, ensure_ascii=False, default=str)``, built once (``dumps`` with
options builds an encoder at every call; this is on the path of every delegation)."""


def json_text(payload: Any) -> str:
    """Compact JSON that is always valid UTF-8 (lone surrogates become '?')."""
    text = _JSON.encode(payload)
    return text.encode("utf-8", "replace").decode("utf-8")


def tool_result(
    status: Status,
    agent: str,
    *,
    tool_call_id: str,
    tool_name: str,
    result: Any = None,
    error: str | None = None,
    **extra: Any,
) -> ToolMessage:
    """Build the parent's ``ToolMessage`` for one delegation or refused call.

    The content is compact JSON (``json.dumps``, not pydantic: this sits on the hot path of
    every delegation). ``artifact`` holds the same dict for programmatic readers.
    """
    payload = {"status": status.value, "agent": agent, "result": result, "error": error, **extra}
    return ToolMessage(
        content=json_text(payload),
        tool_call_id=tool_call_id,
        name=tool_name,
        artifact=payload,
        status="success" if status.ok or status is Status.RUNNING else "error",
    )
