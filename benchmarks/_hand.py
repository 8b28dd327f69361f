"""The hand-written LangGraph baselines that ``subagents`` is compared against.

Shared by ``delegation.py`` (``_delegation_common.py``, ``_delegation_runs.py``),
``background.py`` (``_background_common.py``) and ``vs_deepagents.py`` (``_vs_deep_build.py``):
each builds its "hand" variants from these pieces, so every benchmark times the same
hand-written graphs. They are plain LangGraph, written the way a user would without this
runtime: a ``messages`` state, a child graph START -> model -> END, a parent graph whose
model node routes to a ``delegate`` node (one node running every tool call, or one ``Send``
per tool call), and a ToolMessage carrying the same JSON shape (and size) as this runtime's
delegation result.

Where the scripts' baselines differ slightly they still do, through parameters: sync or
async nodes (``is_async``), ``json.dumps(..., ensure_ascii=...)`` and whether a missing
tool-call id becomes ``""`` (``empty_id``). Nothing here adds or removes work on the
baseline side: these graphs are the reference in timing comparisons.

``traced=True`` gives the same graphs with the tracing config this runtime's agents carry,
written the way a LangGraph user who wants the same traces would: each graph
``.with_config(run_name=<name>, tags=["subagent:<name>"], metadata={"lc_agent_name": <name>,
"subagents_path": [...]})`` (``root``: ``["root"]``; ``child``: ``["root", "child"]``) and
each child invocation ``config={"metadata": {"subagents_tool_call_id": <id>}}``
(:func:`child_config`). LangChain and LangGraph copy that config into every node and model
call, so it costs time of its own; ``traced=False`` (the default) is the plain pair.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from subagents.testing import ScriptedChatModel

Graph = CompiledStateGraph[Any, Any, Any, Any]
ToolCallLike = Mapping[str, Any]

ROOT, CHILD = "root", "child"
"""The hand-written graphs' names (the parent's and the child's), as in the benchmarks' agents."""


class State(TypedDict):
    """The hand-written graphs' state: the message list with LangGraph's ``add_messages``."""

    messages: Annotated[list[AnyMessage], add_messages]


# --------------------------------------------------------------------------- messages


def child_input(tc: ToolCallLike) -> dict[str, Any]:
    """A child graph's input for one ``task`` call: its objective as one HumanMessage."""
    return {"messages": [HumanMessage(tc["args"]["objective"])]}


def child_config(tc: ToolCallLike, *, traced: bool) -> RunnableConfig | None:
    """The config of the child invocation for ``tc``: the tool-call id in its metadata when
    ``traced`` (as this runtime's ``subagents_tool_call_id``), else ``None`` (no config)."""
    return {"metadata": {"subagents_tool_call_id": tc["id"]}} if traced else None


def traced_graph(graph: Graph, path: Sequence[str]) -> Graph:
    """``graph`` with the tracing config of the agent at ``path`` (its last name): run name,
    ``subagent:<name>`` tag, ``lc_agent_name`` and ``subagents_path`` metadata."""
    name = path[-1]
    return graph.with_config(run_name=name, tags=[f"subagent:{name}"],
                             metadata={"lc_agent_name": name, "subagents_path": list(path)})


def child_result(state: Mapping[str, Any]) -> dict[str, Any]:
    """The same JSON shape (and size) as this runtime's delegation result."""
    return {"status": "completed", "agent": "child", "result": state["messages"][-1].text,
            "error": None}


def tool_message(tc: ToolCallLike, payload: dict[str, Any], *, ensure_ascii: bool = True,
                 empty_id: bool = False) -> ToolMessage:
    """The ToolMessage answering ``tc`` with ``payload`` as JSON.

    ``ensure_ascii`` is passed to ``json.dumps``; ``empty_id`` turns a missing tool-call id
    into ``""`` (``tc["id"] or ""``) instead of passing it through.
    """
    return ToolMessage(content=json.dumps(payload, ensure_ascii=ensure_ascii),
                       tool_call_id=(tc["id"] or "") if empty_id else tc["id"], name=tc["name"])


async def run_child(child: Graph, tc: ToolCallLike, *, ensure_ascii: bool = True,
                    empty_id: bool = False, traced: bool = False) -> ToolMessage:
    """Invoke the child graph for one ``task`` call (async) and wrap its answer; ``traced``:
    with the tool-call id in the call's metadata (:func:`child_config`)."""
    res = await child.ainvoke(child_input(tc), child_config(tc, traced=traced))
    return tool_message(tc, child_result(res), ensure_ascii=ensure_ascii, empty_id=empty_id)


# --------------------------------------------------------------------------- graphs


def model_node(runnable: Runnable[Any, Any], *, is_async: bool) -> Callable[..., Any]:
    """A node calling ``runnable`` (a model, or a model with tools bound) on the messages."""
    if is_async:
        async def amodel(state: State) -> dict[str, Any]:
            return {"messages": [await runnable.ainvoke(state["messages"])]}
        return amodel

    def smodel(state: State) -> dict[str, Any]:
        return {"messages": [runnable.invoke(state["messages"])]}
    return smodel


def build_child(model: ScriptedChatModel, *, is_async: bool = True,
                traced: bool = False) -> Graph:
    """The hand-written child: START -> model -> END, no tools bound.

    Compiled without a checkpointer, so (like this runtime's children) it inherits the
    parent's saver under the calling node's namespace. ``traced``: with the tracing config of
    an agent ``child`` under ``root`` (:func:`traced_graph`).
    """
    builder = StateGraph(State)
    builder.add_node("model", model_node(model, is_async=is_async))
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    graph = builder.compile(name=CHILD)
    return traced_graph(graph, [ROOT, CHILD]) if traced else graph


def route_delegate(state: State) -> str:
    """To ``delegate`` (one node for every tool call) if the model called tools, else END."""
    last = state["messages"][-1]
    return "delegate" if isinstance(last, AIMessage) and last.tool_calls else END


def route_send(state: State) -> Any:
    """One ``Send`` to ``delegate`` per tool call (LangGraph's fan-out idiom), else END."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return [Send("delegate", {"tool_call": tc}) for tc in last.tool_calls]
    return END


def build_parent(bound: Runnable[Any, Any], delegate: Callable[..., Any],
                 route: Callable[[State], Any], *, is_async: bool = True,
                 checkpointer: BaseCheckpointSaver[Any] | None = None,
                 traced: bool = False) -> Graph:
    """The hand-written parent: model (``bound``: tools bound) -> delegate -> model, until the
    model answers without tool calls. ``route`` is ``route_delegate`` or ``route_send``;
    ``traced``: with the tracing config of an agent ``root`` (:func:`traced_graph`)."""
    builder = StateGraph(State)
    builder.add_node("model", model_node(bound, is_async=is_async))
    builder.add_node("delegate", delegate)
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["delegate", END])
    builder.add_edge("delegate", "model")
    graph = builder.compile(checkpointer=checkpointer, name=ROOT)
    return traced_graph(graph, [ROOT]) if traced else graph


def build_send_parent(bound: Runnable[Any, Any], child: Graph, *, ensure_ascii: bool = True,
                      empty_id: bool = False,
                      checkpointer: BaseCheckpointSaver[Any] | None = None) -> Graph:
    """LangGraph's own fan-out idiom by hand (async): one ``Send`` per tool call to a node
    invoking the child, i.e. this runtime's shape without this runtime."""

    async def adelegate(payload: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await run_child(child, payload["tool_call"],
                                             ensure_ascii=ensure_ascii, empty_id=empty_id)]}

    return build_parent(bound, adelegate, route_send, checkpointer=checkpointer)


async def gather(model: ScriptedChatModel, tools: Sequence[Any], child: Graph, n: int, *,
                 ensure_ascii: bool = True, empty_id: bool = False) -> list[BaseMessage]:
    """No graph for the root: root model call (``tools`` bound), ``asyncio.gather`` of the
    child graphs (``fan:n``), root model call."""
    bound = model.bind_tools(tools)
    messages: list[BaseMessage] = [HumanMessage(f"fan:{n}")]
    first = await bound.ainvoke(messages)
    calls = first.tool_calls
    states = await asyncio.gather(*(child.ainvoke(child_input(tc)) for tc in calls))
    results = [tool_message(tc, child_result(st), ensure_ascii=ensure_ascii, empty_id=empty_id)
               for tc, st in zip(calls, states, strict=True)]
    messages = [*messages, first, *results]
    return [*messages, await bound.ainvoke(messages)]
