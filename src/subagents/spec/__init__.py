"""The spec layer: what a user declares, validated, with no runtime in it.

``Agent`` and every configuration type it holds (``Budget``, ``BackgroundConfig``,
``LoopGuard``, ``RemoteSpec``, ``GraphSpec``, delivery targets). Nothing here imports the
runtime (:mod:`subagents.runtime`); the import contract in ``pyproject.toml`` enforces it.
"""

from subagents.spec._fields import MAX_RETRY_SECONDS
from subagents.spec.agent import RESERVED_NAMES, Agent, AnswerCheck, iter_agents
from subagents.spec.background import AwaitMode, BackgroundConfig, JobDispatcher
from subagents.spec.budget import Budget
from subagents.spec.delivery import DELIVERY_KEY, Delivery, Handler, Webhook
from subagents.spec.first_call import FirstCall
from subagents.spec.foreign import GraphSpec, RemoteSpec
from subagents.spec.guard import LoopGuard

__all__ = [
    "MAX_RETRY_SECONDS",
    "DELIVERY_KEY",
    "RESERVED_NAMES",
    "Agent",
    "AnswerCheck",
    "AwaitMode",
    "BackgroundConfig",
    "Budget",
    "Delivery",
    "GraphSpec",
    "Handler",
    "JobDispatcher",
    "FirstCall",
    "LoopGuard",
    "RemoteSpec",
    "Webhook",
    "iter_agents",
]
