"""Budget limits of a delegation tree (``Agent(budget=...)``): calls, rounds, tokens, seconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Budget"]


class Budget(BaseModel):
    """Limits for one agent's whole call tree (None: no limit).

    Children draw from their parent's budget; an agent may also set a smaller budget of its
    own, and then both apply. A model call is made only after it reserved its place in every
    enclosing budget; when a limit is reached the agent ends with status ``over_budget``.

    ``max_seconds`` is a deadline per run (a resumed run starts a new clock): in async runs
    in-flight model and tool calls are cancelled at it and the agent ends ``over_budget`` with
    an error naming ``max_seconds``; sync runs check it before each model call only (a
    blocked sync call cannot be interrupted). Spent calls, rounds and tokens are
    checkpointed and go on across resumes (see ``subagents.nodes.state.AgentState``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_model_calls: int | None = Field(default=None, ge=0, description="Model calls.")
    max_tool_rounds: int | None = Field(
        default=None, ge=0,
        description="Model replies whose tool calls are run (one round per reply).")
    max_tokens: int | None = Field(
        default=None, ge=0, description="Input + output tokens; a call starts only while "
        "spent + in-flight reservations < max_tokens.")
    max_seconds: float | None = Field(
        default=None, gt=0, description="Wall-clock seconds of one run (a deadline: in-flight "
        "async model and tool calls are cancelled at it).")


