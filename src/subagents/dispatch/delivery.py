"""Delivery of a detached child's result to its target: a webhook POST or a named handler.

The targets themselves (:class:`~subagents.spec.delivery.Webhook`,
:class:`~subagents.spec.delivery.Handler`) are configuration, in the spec layer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from subagents.errors import SubagentsError
from subagents.spec.delivery import Delivery, Webhook

__all__ = ["DeliveryError", "deliver"]


class DeliveryError(SubagentsError):
    """A delivery target refused or was unreachable (after its retries)."""


async def _post(target: Webhook, payload: Mapping[str, Any]) -> None:
    headers = {"Idempotency-Key": str(payload["job_id"]), **target.headers}
    async with httpx.AsyncClient(timeout=target.timeout) as client:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(target.max_attempts),
            wait=wait_exponential(multiplier=target.backoff, max=30),
            retry=retry_if_exception_type((httpx.HTTPError, DeliveryError)),
            reraise=True,
        ):
            with attempt:
                response = await client.post(target.url, json=dict(payload), headers=headers)
                if response.status_code >= 300:
                    msg = f"webhook {target.url} answered HTTP {response.status_code}"
                    raise DeliveryError(msg)


async def deliver(target: Delivery, payload: Mapping[str, Any],
                  handlers: Mapping[str, Callable[[dict[str, Any]], Any]]) -> None:
    """Deliver one result.

    Raises:
        DeliveryError: the handler is unknown or raised, or the webhook failed every attempt.
    """
    if isinstance(target, Webhook):
        try:
            await _post(target, payload)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {target.url}: {type(exc).__name__}: {exc}") from exc
        return
    handler = handlers.get(target.name)
    if handler is None:
        raise DeliveryError(f"no handler named {target.name!r} (known: {sorted(handlers)})")
    try:
        result = handler(dict(payload))
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        raise DeliveryError(f"handler {target.name!r}: {type(exc).__name__}: {exc}") from exc


