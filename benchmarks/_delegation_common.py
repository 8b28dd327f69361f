"""The shared scripted policy, constants and graph builders of ``delegation.py``.

``ours`` (``compile_agent`` of a root with one child) and the hand-written LangGraph pair in
two forms, ``traced`` (this runtime's tracing config, the baseline judged) and ``plain``; the
hand-written fan-out by ``Send`` and by ``asyncio.gather``. The hand-written pieces themselves
live in ``_hand.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _hand as hand
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from subagents import Agent, compile_agent
from subagents.nodes.schemas import task_spec
from subagents.testing import ScriptedChatModel, call

RATIO_TARGET = 1.10
FANOUT_TARGET = 1.05
FANOUT_CHILDREN = 100
FANOUT_LATENCY = 0.2
CHILD_PREFIX = "subtask"

# --------------------------------------------------------------------------- the shared policy


def policy(messages: list[BaseMessage], agent: str | None = None) -> AIMessage:
    """Stateless script shared by both sides; it never looks at ``agent``.

    The task message says what to do: ``seq:N`` (root: N sequential delegations, one per
    turn), ``fan:N`` (root: N delegations in one turn), ``subtask ...`` (child: answer).
    """
    task = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    text = str(task.content)
    if text.startswith(CHILD_PREFIX):
        return AIMessage(content=f"answer to {text}")
    kind, _, count = text.partition(":")
    n, done = int(count), sum(isinstance(m, ToolMessage) for m in messages)
    if kind == "seq" and done < n:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {done}")])
    if kind == "fan" and done == 0:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {i}") for i in range(n)])
    return AIMessage(content=f"root answer from {done} results")


CHILD_SPEC = Agent(name="child", description="Answers one subtask.")
TASK_TOOL = task_spec([CHILD_SPEC], with_context=True)

# --------------------------------------------------------------------------- this runtime


def build_ours(model: ScriptedChatModel,
               checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph:
    root = Agent(name="root", model=model, subagents=[CHILD_SPEC])
    return compile_agent(root, checkpointer=checkpointer)


# --------------------------------------------------------------------------- hand-written
# The pieces (state, child, parent, ToolMessage) live in _hand.py, shared with background.py
# and vs_deepagents.py; here: default json.dumps and tool-call ids passed through.


def build_handwritten(model: ScriptedChatModel, checkpointer: BaseCheckpointSaver[Any] | None,
                      *, is_async: bool, traced: bool = False) -> CompiledStateGraph:
    """Parent: model node (``task`` tool bound) -> delegate node (invokes the child) -> model.

    The child is compiled without a checkpointer, so (like this runtime's children) it
    inherits the parent's saver under the delegate node's namespace. ``traced``: both graphs
    carry the tracing config of this runtime's agents and each child invocation the tool-call
    id in its metadata (``_hand.traced_graph``, ``_hand.child_config``); else none.
    """
    bound = model.bind_tools([TASK_TOOL])
    child = hand.build_child(model, is_async=is_async, traced=traced)
    if is_async:
        async def adelegate(state: hand.State) -> dict[str, Any]:
            out = []
            for tc in state["messages"][-1].tool_calls:
                res = await child.ainvoke(hand.child_input(tc),
                                          hand.child_config(tc, traced=traced))
                out.append(hand.tool_message(tc, hand.child_result(res)))
            return {"messages": out}
        delegate: Callable[..., Any] = adelegate
    else:
        def sdelegate(state: hand.State) -> dict[str, Any]:
            out = []
            for tc in state["messages"][-1].tool_calls:
                res = child.invoke(hand.child_input(tc), hand.child_config(tc, traced=traced))
                out.append(hand.tool_message(tc, hand.child_result(res)))
            return {"messages": out}
        delegate = sdelegate
    return hand.build_parent(bound, delegate, hand.route_delegate, is_async=is_async,
                             checkpointer=checkpointer, traced=traced)


async def handwritten_gather(model: ScriptedChatModel, child: CompiledStateGraph,
                             n: int) -> list[BaseMessage]:
    """Reported beside the fan-out: root model call, ``asyncio.gather`` of n child graphs,
    root model call (no durable task per child)."""
    return await hand.gather(model, [TASK_TOOL], child, n)


def build_send_fanout(model: ScriptedChatModel) -> CompiledStateGraph:
    """The fan-out baseline: LangGraph's own fan-out idiom (one ``Send`` per tool call to a
    node that invokes the child), i.e. what this runtime does, written by hand."""
    bound = model.bind_tools([TASK_TOOL])
    return hand.build_send_parent(bound, hand.build_child(model, is_async=True))


SIDES = ("ours", "traced", "plain")
"""Scenario 1's variants: this runtime, the hand-written pair with the same tracing config
(the baseline judged), the plain hand-written pair (reported)."""


def build_side(name: str, model: ScriptedChatModel,
               checkpointer: BaseCheckpointSaver[Any] | None, *,
               is_async: bool) -> CompiledStateGraph:
    """The graph of side ``name`` (one of ``SIDES``)."""
    if name == "ours":
        return build_ours(model, checkpointer)
    return build_handwritten(model, checkpointer, is_async=is_async, traced=name == "traced")
