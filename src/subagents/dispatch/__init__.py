"""Durable detached delegation: fire-and-forget with delivery, delayed and cron jobs."""

from subagents.delivery import Handler, Webhook
from subagents.dispatch.dispatcher import Dispatcher

__all__ = ["Dispatcher", "Handler", "Webhook"]
