"""Durable detached delegation: fire-and-forget with delivery, delayed and cron jobs."""

from subagents.dispatch.dispatcher import Dispatcher
from subagents.spec.delivery import Handler, Webhook

__all__ = ["Dispatcher", "Handler", "Webhook"]
