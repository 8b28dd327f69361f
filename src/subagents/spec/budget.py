"""Budget limits of a delegation tree (``Agent(budget=...)``): calls, rounds, tokens, time, USD."""

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
    an error naming ``max_seconds``; sync runs, which cannot interrupt a call, make each model
    and tool call under it in a daemon thread and stop waiting at it (the call runs on in its
    thread, its result dropped), with the same ending. Spent calls, rounds, tokens and cost are
    checkpointed and go on across resumes (see ``subagents.nodes.state.AgentState``).

    ``max_cost`` is in US dollars: each model call reserves its worst case (its prompt
    estimate and the model's max output tokens at the model's price) and starts only when
    that fits in what is left after spent and in-flight calls, so the tree's cost stays
    within ``max_cost`` as long as no call costs more than its worst case. Every model under
    it needs a known price (``Agent.pricing``, ``genai-prices``, or a local model): else
    ``subagents.runtime.cost.UnpricedModelError``.
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
        "model and tool calls are cancelled at it in async runs, no longer waited on in sync "
        "runs).")
    max_cost: float | None = Field(
        default=None, ge=0, allow_inf_nan=False,
        description="US dollars of model calls; a call starts only when its worst-case cost "
        "fits in what spent and in-flight calls leave.")


