"""langgraph-subagents: sub-agent delegation on LangGraph.

Every agent is a compiled LangGraph subgraph with its own message state; a parent delegates a
self-contained task through a tool call that a delegation node executes by invoking the
child's graph. See ``Agent`` and ``compile_agent``.
"""

from subagents.errors import (
    LocalModelError,
    ModelEndpointError,
    ModelResolutionError,
    NothingToResume,
    SpecError,
    SubagentsError,
)
from subagents.graphs import as_tool, compile_agent, delegate_node
from subagents.nodes.tools import needs_approval, with_timeout
from subagents.results import DelegationResult, Status
from subagents.runtime.observe import observe
from subagents.runtime.streaming import stream_events
from subagents.runtime.usage import UsageNode
from subagents.spec import Agent
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget
from subagents.spec.first_call import FirstCall
from subagents.spec.guard import LoopGuard

__all__ = [
    "Agent",
    "BackgroundConfig",
    "Budget",
    "DelegationResult",
    "LocalModelError",
    "FirstCall",
    "LoopGuard",
    "ModelEndpointError",
    "ModelResolutionError",
    "NothingToResume",
    "SpecError",
    "Status",
    "SubagentsError",
    "UsageNode",
    "as_tool",
    "compile_agent",
    "delegate_node",
    "needs_approval",
    "observe",
    "stream_events",
    "with_timeout",
]
