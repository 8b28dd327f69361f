"""``run_team``: run a team once, streaming, and gather its delegation tree.

The run streams ``astream(..., stream_mode=["updates", "tasks"], subgraphs=True)``:

* a parent's ``AIMessage`` tool call ``task`` / ``task_<name>`` opens a node of the tree;
* the ``tasks`` event that starts the delegation node carries that tool call and the task
  id that appears in the child's namespace (``explore/search:<task_id>``), which ties every
  later update of that namespace (model calls, tokens) to the right node, even when the
  same agent runs twice in parallel;
* the parent's ``ToolMessage`` with the same ``tool_call_id`` (JSON
  ``{"status", "agent", "result", "error"}``) closes it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents.graphs import compile_agent
from subagents.spec import Agent

__all__ = ["DelegationNode", "RunReport", "run_team"]

_MESSAGE_FIELDS = ("objective", "message", "query", "text", "content")


@dataclass
class DelegationNode:
    """One agent run in the delegation tree (the root run included).

    Attributes:
        agent: the agent's name.
        path: its ancestry path from the root, e.g. ``("dev", "explore")``.
        objective: the task it was given (the root: the question).
        status: ``running`` until closed, then the result's status (``completed``,
            ``failed``, ``max_steps``, ...), or ``cancelled`` when the run was interrupted.
        started: ``time.monotonic()`` when it was opened (seconds).
        ended: ``time.monotonic()`` when it was closed, or None.
        model_calls: AI messages its model node produced.
        input_tokens: prompt tokens over those calls (``usage_metadata``; 0 when unknown).
        output_tokens: completion tokens over those calls.
        result: the delegation result (text or JSON object), None while running.
        error: the result's error text, if any.
        tool_call_id: the parent's tool call that opened it ("" for the root).
        children: delegations it made, in the order they were opened.
        specs: the agent specs from the root to this one (empty for a refused call); used to
            tell delegation calls from ordinary tool calls.
    """

    agent: str
    path: tuple[str, ...]
    objective: str
    status: str = "running"
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    result: Any = None
    error: str | None = None
    tool_call_id: str = ""
    children: list[DelegationNode] = field(default_factory=list)
    specs: tuple[Agent, ...] = field(default=(), repr=False)

    @property
    def seconds(self) -> float:
        """Wall time in seconds: until closed, or until now while running."""
        return (time.monotonic() if self.ended is None else self.ended) - self.started

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def walk(self) -> Iterator[DelegationNode]:
        """Yield this node and its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class RunReport:
    """What one run did; also the live state passed to ``on_update`` while it runs.

    Attributes:
        question: the user's question.
        tree: the root agent's node; delegations are its descendants.
        answer: the root's final text (its structured output as JSON text when it has an
            ``output_schema``); None until it finished.
        structured: the root's validated output (a pydantic model) or None.
        thread_id: the checkpoint thread id (None without a checkpointer).
        cancelled: True when the run was interrupted (Ctrl-C / task cancellation).
    """

    question: str
    tree: DelegationNode
    answer: str | None = None
    structured: Any = None
    thread_id: str | None = None
    cancelled: bool = False

    def active(self) -> list[DelegationNode]:
        """Running nodes with no running child: the agents working right now."""
        return [n for n in self.tree.walk() if n.status == "running"
                and not any(c.status == "running" for c in n.children)]


async def run_team(
    agent: Agent,
    question: str,
    *,
    model: BaseChatModel | str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_update: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Compile ``agent``, ask it ``question`` and return the answer with its delegation tree.

    Args:
        agent: the root agent (e.g. ``load_team(...)``).
        question: the user's message.
        model: model for agents that name none (``compile_agent(model=...)``).
        checkpointer: saver for the run; a thread id is then required and made up when
            ``thread_id`` is None (``uuid4`` hex).
        thread_id: the checkpoint thread to use.
        on_update: called with the live report after every streamed event (cheap: called
            from the event loop, must not block).

    Returns:
        The finished report. When the run is cancelled (``asyncio.CancelledError``, e.g.
        Ctrl-C under ``asyncio.run``) the open nodes are marked ``cancelled`` and the
        error propagates; the partial report is attached to it as ``exc.report``.

    Raises:
        SpecError, ModelResolutionError: from ``compile_agent``.
        Exception: whatever the root's own graph raises (a sub-agent's failure never does).
    """
    graph = compile_agent(agent, model=model, checkpointer=checkpointer)
    report = RunReport(question, DelegationNode(agent.name, (agent.name,), question,
                                                   specs=(agent,)))
    config: RunnableConfig = {}
    if checkpointer is not None:
        report.thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": report.thread_id}}
    tracker = _Tracker(report)
    inputs = {"messages": [HumanMessage(question)]}
    try:
        async for namespace, mode, data in graph.astream(
                inputs, config, stream_mode=["updates", "tasks"], subgraphs=True):
            tracker.event(tuple(namespace), str(mode), data)
            if on_update is not None:
                on_update(report)
    except BaseException as exc:
        now = time.monotonic()
        for node in report.tree.walk():
            if node.status == "running":
                node.status, node.ended = "cancelled", now
        report.cancelled = True
        exc.report = report  # type: ignore[attr-defined]
        raise
    tree = report.tree
    tree.status, tree.ended = "completed", time.monotonic()
    if report.structured is not None and report.answer is None:
        report.answer = _as_text(report.structured)
    return report


def _as_text(value: Any) -> str:
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json(indent=2))
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


def _objective(args: Mapping[str, Any]) -> str:
    for key in _MESSAGE_FIELDS:
        if isinstance(args.get(key), str):
            return str(args[key])
    return json.dumps(dict(args), default=str)


class _Tracker:
    """Turns stream events into the report's tree (one per run)."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        self.by_call: dict[str, DelegationNode] = {}
        self.by_task: dict[str, DelegationNode] = {}

    def owner(self, namespace: tuple[str, ...]) -> DelegationNode:
        for segment in reversed(namespace):
            node = self.by_task.get(segment.rpartition(":")[2])
            if node is not None:
                return node
        return self.report.tree

    def event(self, namespace: tuple[str, ...], mode: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            return
        owner = self.owner(namespace)
        if mode == "tasks":
            payload = data.get("input")
            call = payload.get("tool_call") if isinstance(payload, Mapping) else None
            if isinstance(call, Mapping) and "id" in data:
                node = self.by_call.get(str(call.get("id"))) or self.open(owner, call)
                if node is not None:
                    self.by_task[str(data["id"])] = node
            return
        for node_name, value in data.items():
            if not isinstance(value, Mapping):
                continue
            if not namespace and "structured_response" in value:
                self.report.structured = value["structured_response"]
            messages = value.get("messages", [])
            for message in messages if isinstance(messages, list) else [messages]:
                self.message(owner, str(node_name), message, root=not namespace)

    def message(self, owner: DelegationNode, node_name: str, message: Any, *,
                root: bool) -> None:
        if isinstance(message, AIMessage):
            if node_name == "model":
                owner.model_calls += 1
                usage: Mapping[str, Any] = message.usage_metadata or {}
                owner.input_tokens += int(usage.get("input_tokens", 0))
                owner.output_tokens += int(usage.get("output_tokens", 0))
                if root and not message.tool_calls:
                    self.report.answer = message.text
            for call in message.tool_calls:
                if call.get("id") not in self.by_call:
                    self.open(owner, call)
        elif isinstance(message, ToolMessage):
            node = self.by_call.get(message.tool_call_id)
            if node is not None:
                self.close(node, message)

    def open(self, parent: DelegationNode, call: ToolCall | Mapping[str, Any]
             ) -> DelegationNode | None:
        args = call.get("args") or {}
        found = _child_of(parent, str(call.get("name")), args)
        if found is None:
            return None
        name, spec = found
        node = DelegationNode(name, (*parent.path, name), _objective(args),
                              tool_call_id=str(call.get("id") or ""),
                              specs=() if spec is None else (*parent.specs, spec))
        parent.children.append(node)
        self.by_call[node.tool_call_id] = node
        return node

    def close(self, node: DelegationNode, message: ToolMessage) -> None:
        node.ended = time.monotonic()
        try:
            data = json.loads(message.text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            node.status, node.result = "completed", message.text
            return
        node.status = str(data.get("status") or "completed")
        node.result, node.error = data.get("result"), data.get("error")


def _child_of(parent: DelegationNode, tool: str,
              args: Mapping[str, Any]) -> tuple[str, Agent | None] | None:
    """The agent a tool call delegates to: (name, spec), (name, None) if refused, or None."""
    if not parent.specs:
        return None
    spec = parent.specs[-1]
    for ref in spec.subagents:
        child = ref if isinstance(ref, Agent) else next(
            (a for a in reversed(parent.specs) if a.name == ref), None)
        if child is None:
            continue
        if tool == "task" and spec.delegation == "task" and args.get("agent") == child.name:
            return child.name, child
        if spec.delegation == "per_agent" and tool == child.delegation_tool_name:
            return child.name, child
    if tool == "task" and isinstance(args.get("agent"), str):  # will be refused: unknown agent
        return str(args["agent"]), None
    return None
