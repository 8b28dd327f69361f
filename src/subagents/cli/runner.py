"""``run_team``: run a team once and gather its delegation tree from the run's events.

The tree is built by ``EventTree`` from the typed events of ``subagents.events``, received
through ``observe(on_event=...)`` (every depth, in order per agent):

* ``subagent_start`` opens a node (keyed by its path and the parent's ``tool_call_id``, so
  two parallel runs of one agent are told apart) and ``subagent_end`` closes it; its
  ``usage`` (the child's ``UsageNode.to_dict()``) sets the node's counts and re-attaches its
  children exactly where the usage tree has them;
* ``model_end`` counts model calls, tokens and tool calls; ``text_delta`` / ``model_end``
  keep the tail of what the agent is saying (the live view shows it).

The same ``EventTree`` rebuilds a finished run from an ``EventLog`` (``replay_report``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents.events import (
    BaseEvent,
    ModelEnd,
    ModelStart,
    SubagentEnd,
    SubagentStart,
    TextDelta,
)
from subagents.graphs import compile_agent
from subagents.results import Status
from subagents.scope import observe
from subagents.spec import Agent

__all__ = ["DelegationNode", "EventTree", "RunReport", "replay_report", "run_team"]

TEXT_TAIL = 80
"""Characters of an agent's latest text kept for the live view."""
_log = logging.getLogger("subagents")
_Key = tuple[tuple[str, ...], str]


@dataclass
class DelegationNode:
    """One agent invocation in the delegation tree (the root run included).

    Attributes:
        agent: the agent's name.
        path: its ancestry path from the root, e.g. ``("dev", "explore")``.
        objective: the task it was given (the root: the question).
        status: ``running`` until closed, then its status (``completed``, ``failed``,
            ``max_steps``, ...), or ``cancelled`` when the run was interrupted.
        started: wall-clock time it started (``time.time()``, seconds).
        ended: wall-clock time it ended, or None.
        model_calls: model calls made by this agent itself.
        input_tokens: prompt tokens over those calls (0 when unknown).
        output_tokens: completion tokens over those calls.
        tool_calls: tool calls it asked for (delegations included).
        result: the delegation result (text or JSON object), None while running.
        error: its error text, if any.
        tool_call_id: the parent's tool call that started it ("" for the root).
        background: started by a background delegation.
        text: the tail (``TEXT_TAIL`` characters) of its latest model output.
        duration: seconds it ran, as its usage record says (None: from started/ended).
        children: delegations it made, in the order they started.
    """

    agent: str
    path: tuple[str, ...]
    objective: str
    status: str = "running"
    started: float = field(default_factory=time.time)
    ended: float | None = None
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    result: Any = None
    error: str | None = None
    tool_call_id: str = ""
    background: bool = False
    text: str = ""
    duration: float | None = None
    children: list[DelegationNode] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Seconds it ran: its usage record's, else until ended (or now while running)."""
        if self.duration is not None:
            return self.duration
        return max((time.time() if self.ended is None else self.ended) - self.started, 0.0)

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @property
    def key(self) -> _Key:
        """``(path, tool_call_id)``: identifies one invocation within a run."""
        return self.path, self.tool_call_id

    def walk(self) -> Iterator[DelegationNode]:
        """Yield this node and its descendants, depth first."""
        yield self
        for child in list(self.children):
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
        thread_id: the checkpoint thread id, also the event log's run id (None without a
            checkpointer).
        cancelled: True when the run was interrupted (Ctrl-C / task cancellation).
        usage: the root's usage tree (``UsageNode.to_dict()``) once the run ended.
    """

    question: str
    tree: DelegationNode
    answer: str | None = None
    structured: Any = None
    thread_id: str | None = None
    cancelled: bool = False
    usage: dict[str, Any] | None = None

    def active(self) -> list[DelegationNode]:
        """Running nodes with no running child: the agents working right now."""
        return [n for n in self.tree.walk() if n.status == "running"
                and not any(c.status == "running" for c in n.children)]


class EventTree:
    """Builds a delegation tree from events (see the module docstring).

    Args:
        root: the root node; None to make it from the first event (replay).
    """

    def __init__(self, root: DelegationNode | None = None) -> None:
        self.root = root
        self.nodes: dict[_Key, DelegationNode] = {}
        self.parent: dict[_Key, DelegationNode] = {}
        self.answer: str | None = None
        self._seen: dict[_Key, int] = {}
        self._tick = 0
        self._fresh: set[_Key] = set()
        if root is not None:
            self.nodes[root.key] = root

    def feed(self, event: BaseEvent) -> DelegationNode:
        """Apply one event; returns the node it is about."""
        node = self.node(tuple(event.path), event.tool_call_id or "")
        self._tick += 1
        self._seen[node.key] = self._tick
        if isinstance(event, SubagentStart):
            node.objective, node.background = event.objective or node.objective, event.background
            node.started = event.ts
        elif isinstance(event, SubagentEnd):
            self.close(node, event)
        elif isinstance(event, ModelStart):
            self._fresh.add(node.key)
        elif isinstance(event, TextDelta):
            base = "" if node.key in self._fresh else node.text
            self._fresh.discard(node.key)
            node.text = (base + event.text)[-TEXT_TAIL:]
        elif isinstance(event, ModelEnd):
            self._model_end(node, event)
        return node

    def node(self, path: tuple[str, ...], tool_call_id: str) -> DelegationNode:
        """The node of ``(path, tool_call_id)``, made (and attached) when new."""
        if self.root is None:
            self.root = DelegationNode(path[0], path[:1], "")
            self.nodes[self.root.key] = self.root
        if len(path) <= 1:
            return self.root
        found = self.nodes.get((path, tool_call_id))
        if found is not None:
            return found
        node = DelegationNode(path[-1], path, "", tool_call_id=tool_call_id)
        self._attach(node, self._parent_for(path[:-1]))
        return node

    def _parent_for(self, path: tuple[str, ...]) -> DelegationNode:
        """The likeliest parent: a running invocation at ``path``, the last one heard from.

        A guess only when one agent runs twice in parallel; the parent's ``subagent_end``
        (its usage tree) fixes it.
        """
        assert self.root is not None
        candidates = [n for k, n in self.nodes.items() if k[0] == path]
        if not candidates:
            return self.root if len(path) <= 1 else self._parent_for(path[:-1])
        running = [n for n in candidates if n.status == "running"] or candidates
        return max(running, key=lambda n: self._seen.get(n.key, 0))

    def _attach(self, node: DelegationNode, parent: DelegationNode) -> None:
        old = self.parent.get(node.key)
        if old is parent:
            return
        if old is not None and node in old.children:
            old.children.remove(node)
        parent.children.append(node)
        self.parent[node.key] = parent
        self.nodes[node.key] = node

    def _model_end(self, node: DelegationNode, event: ModelEnd) -> None:
        node.model_calls += 1
        node.tool_calls += len(event.tool_calls)
        usage: Mapping[str, Any] = event.usage or {}
        node.input_tokens += int(usage.get("input_tokens", 0))
        node.output_tokens += int(usage.get("output_tokens", 0))
        if event.text.strip():
            node.text = " ".join(event.text.split())[-TEXT_TAIL:]
        elif event.tool_calls:
            node.text = "→ " + ", ".join(event.tool_calls)
        self._fresh.discard(node.key)
        if node is self.root and not event.tool_calls:
            self.answer = event.text

    def close(self, node: DelegationNode, event: SubagentEnd) -> None:
        """A node ended: status, result, error, and its usage tree when the event has it."""
        node.status, node.ended = str(event.status), event.ts
        node.result, node.error = event.result, event.error
        if event.usage:
            self.apply_usage(node, event.usage)

    def apply_usage(self, node: DelegationNode, usage: Mapping[str, Any]) -> None:
        """Set counts, durations and child statuses from a ``UsageNode.to_dict()`` tree.

        Children are matched by path and tool call id (made when missing) and moved under
        ``node`` when they were attached elsewhere.
        """
        for name in ("model_calls", "input_tokens", "output_tokens", "tool_calls"):
            setattr(node, name, int(usage.get(name) or 0))
        if isinstance(usage.get("seconds"), int | float):
            node.duration = float(usage["seconds"])
        if node.status == "running" and usage.get("status"):
            node.status = str(usage["status"])
        for child in usage.get("children") or []:
            path = tuple(str(p) for p in child.get("path") or ())
            if len(path) < 2:
                continue
            key = (path, str(child.get("tool_call_id") or ""))
            found = self.nodes.get(key)
            if found is None:
                found = DelegationNode(path[-1], path, str(child.get("objective") or ""),
                                       tool_call_id=key[1],
                                       background=bool(child.get("background")))
            self._attach(found, node)
            self.apply_usage(found, child)


async def run_team(
    agent: Agent,
    question: str,
    *,
    model: BaseChatModel | str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    on_update: Callable[[RunReport], None] | None = None,
    on_event: Callable[[BaseEvent], Any] | None = None,
    detail: Literal["all", "summary"] = "all",
) -> RunReport:
    """Compile ``agent``, ask it ``question`` and return the answer with its delegation tree.

    Args:
        agent: the root agent (e.g. ``load_team(...)``).
        question: the user's message.
        model: model for agents that name none (``compile_agent(model=...)``).
        checkpointer: saver for the run; a thread id is then required and made up when
            ``thread_id`` is None (``uuid4`` hex).
        thread_id: the checkpoint thread to use.
        on_update: called with the live report after every event the tree takes in
            (cheap: called from the run, must not block).
        on_event: receives every event of the run at every depth (whatever ``detail``),
            framed by a ``subagent_start`` for the root (objective: the question) and a
            ``subagent_end`` for it (result: the answer, usage: the whole usage tree), both
            with ``tool_call_id=None``, so that a log of them can be replayed on its own.
        detail: ``"summary"`` keeps sub-agent chatter (their model and text events) out of
            the live tree: their counts arrive with their ``subagent_end``.

    Returns:
        The finished report. When the run is cancelled (``asyncio.CancelledError``, e.g.
        Ctrl-C under ``asyncio.run``) or fails, the open nodes are marked ``cancelled``
        (``failed``) and the error propagates; the partial report is attached to it as
        ``exc.report``.

    Raises:
        SpecError, ModelResolutionError: from ``compile_agent``.
        Exception: whatever the root's own graph raises (a sub-agent's failure never does).
    """
    graph = compile_agent(agent, model=model, checkpointer=checkpointer)
    root = DelegationNode(agent.name, (agent.name,), question)
    report = RunReport(question, root)
    config: RunnableConfig = {}
    if checkpointer is not None:
        report.thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": report.thread_id}}
    tree = EventTree(root)

    def sink(event: BaseEvent) -> None:
        if on_event is not None:
            on_event(event)
        if detail == "all" or len(event.path) <= 1 or isinstance(
                event, SubagentStart | SubagentEnd):
            tree.feed(event)
            if on_update is not None:
                on_update(report)

    scope, cfg = observe(config, on_event=sink)
    _tell(on_event, SubagentStart(path=[agent.name], agent=agent.name, objective=question,
                                  ts=root.started))
    error: BaseException | None = None
    try:
        state = await graph.ainvoke({"messages": [HumanMessage(question)]}, cfg)
        _read_state(report, state)
    except BaseException as exc:
        error = exc
        raise
    finally:
        usage = scope.usage.children[0].to_dict() if scope.usage.children else None
        _finish(report, tree, usage, error)
        _tell(on_event, SubagentEnd(path=[agent.name], agent=agent.name, ts=root.ended or 0,
                                    status=_status(root.status), result=report.answer,
                                    error=root.error, usage=report.usage or {}))
    return report


def _tell(on_event: Callable[[BaseEvent], Any] | None, event: BaseEvent) -> None:
    if on_event is None:
        return
    try:
        on_event(event)
    except Exception:  # a listener must never break the run
        _log.exception("subagents event listener failed")


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.FAILED


def _read_state(report: RunReport, state: Any) -> None:
    if not isinstance(state, Mapping):
        return
    report.structured = state.get("structured_response")
    if isinstance(state.get("usage"), dict):
        report.usage = state["usage"]
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    if report.structured is not None:
        report.answer = _as_text(report.structured)
    elif isinstance(last, AIMessage):
        report.answer = last.text


def _finish(report: RunReport, tree: EventTree, usage: dict[str, Any] | None,
            error: BaseException | None) -> None:
    """Settle the report after the run: usage, statuses, and what an error left open."""
    root = report.tree
    report.usage = usage or report.usage
    if report.usage:
        tree.apply_usage(root, report.usage)
    now = time.time()
    root.ended = now
    if error is None:
        if root.status == "running":
            root.status = "completed"
        return
    report.cancelled = not isinstance(error, Exception)
    left = "failed" if isinstance(error, Exception) else "cancelled"
    if isinstance(error, Exception) and root.status in ("running", "failed"):
        root.status, root.error = "failed", f"{type(error).__name__}: {error}"
    for node in root.walk():
        if node.status == "running":
            node.status, node.ended = (left if node is root else "cancelled"), now
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        error.report = report  # type: ignore[attr-defined]


def replay_report(events: Iterable[BaseEvent]) -> RunReport:
    """Rebuild a run's report from its logged events (``EventLog.events(run_id)``).

    Nodes without a ``subagent_end`` (a run that was killed) stay ``running``; the root's
    answer is the result of its closing event, else its last model reply without tool calls.

    Raises:
        ValueError: no events.
    """
    tree = EventTree()
    for event in events:
        tree.feed(event)
    if tree.root is None:
        raise ValueError("no events to replay")
    root = tree.root
    answer = root.result if isinstance(root.result, str) else tree.answer
    return RunReport(root.objective, root, answer=answer)


def _as_text(value: Any) -> str:
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json(indent=2))
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
