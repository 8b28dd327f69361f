"""Node functions of an agent graph: the model node, the tool node, delegation nodes.

Nodes never import subgraphs: a parent's delegation node is handed its children already
compiled (see :class:`subagents.nodes.plan.ChildLink`).
"""

from subagents.nodes._decide import mark_stop
from subagents.nodes._emit import Emitter
from subagents.nodes.child_call import make_child_call_node
from subagents.nodes.lifecycle import make_lifecycle_node
from subagents.nodes.model import make_model_node
from subagents.nodes.plan import AgentPlan, ChildLink
from subagents.nodes.state import AgentState, RootState, StructuredAgentState, StructuredRootState
from subagents.nodes.tools import make_tool_node

__all__ = [
    "AgentPlan",
    "AgentState",
    "ChildLink",
    "Emitter",
    "RootState",
    "StructuredAgentState",
    "StructuredRootState",
    "make_child_call_node",
    "make_lifecycle_node",
    "make_model_node",
    "make_tool_node",
    "mark_stop",
]
