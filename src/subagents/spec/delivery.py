"""Where a detached delegation's result goes: an HTTP webhook or a named handler.

The target is set per agent (``BackgroundConfig(deliver=...)``) or per run: the run's
``config["configurable"]["subagents_delivery"]`` (:data:`DELIVERY_KEY`; a ``Webhook``, a
``Handler`` or their JSON form, e.g. from a LangGraph server assistant's config) overrides the
agent's for every background delegation of that run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DELIVERY_KEY", "Delivery", "Handler", "Webhook", "parse_delivery", "run_delivery"]

DELIVERY_KEY = "subagents_delivery"
"""``configurable`` key of a run's own delivery target (see the module docstring)."""


class Webhook(BaseModel):
    """POST the result JSON to ``url``, retried with exponential backoff.

    The request carries ``Idempotency-Key: <job id>``: delivery is at-least-once (a crash
    between a successful POST and recording it re-sends it), so receivers dedupe on the key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhook"] = "webhook"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    max_attempts: int = Field(default=5, ge=1, description="POST attempts before giving up.")
    backoff: float = Field(default=0.5, gt=0, description="First retry delay, seconds.")
    timeout: float = Field(default=10.0, gt=0, description="Per-request timeout, seconds.")


class Handler(BaseModel):
    """Call the dispatcher's handler registered under ``name`` (a completion event name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["handler"] = "handler"
    name: str


Delivery = Webhook | Handler








def parse_delivery(data: Mapping[str, Any] | None) -> Delivery | None:
    """The delivery target stored with a job."""
    if not data:
        return None
    if data.get("kind") == "webhook":
        return Webhook.model_validate(data)
    return Handler.model_validate(data)


def run_delivery(configurable: Mapping[str, Any],
                 default: Delivery | None) -> Delivery | str | None:
    """The delivery target of a background delegation: the run's, else the agent's.

    Args:
        configurable: the run's ``config["configurable"]``.
        default: the agent's ``BackgroundConfig.deliver``.

    Returns:
        The target, None (not detached), or an error text for an invalid run target.
    """
    given = configurable.get(DELIVERY_KEY)
    if given is None or isinstance(given, Webhook | Handler):
        return given if given is not None else default
    if not isinstance(given, Mapping):
        return f"'{DELIVERY_KEY}' must be a Webhook, a Handler or its JSON object"
    try:
        return parse_delivery(given) or default
    except ValueError as exc:
        return f"invalid '{DELIVERY_KEY}': {exc}"
