"""The delegation tree of a run, built from its events (live, or replayed from a log).

``EventTree`` takes the typed events of ``subagents.events`` (every depth, in order per
agent):

* ``subagent_start`` opens a node (keyed by its path and the parent's ``tool_call_id``, so
  two parallel runs of one agent are told apart) and ``subagent_end`` closes it; its
  ``usage`` (the child's ``UsageNode.to_dict()``) sets the node's counts and re-attaches its
  children exactly where the usage tree has them;
* ``model_end`` counts model calls, tokens and tool calls; ``text_delta`` / ``model_end``
  keep the tail of what the agent is saying (the live view shows it);
* a refused delegation (its ``subagent_end`` has ``refused=True``: nothing ran) is a node
  closed at once with the refusal's status and error, marked ``refused``;
* ``subagent_retry`` (``Agent.retry``) keeps the node open and counts the attempt: one node
  per delegation, whatever the number of attempts, its counts summed over them (the usage
  tree has one node per attempt, merged here by path and tool call id).

Events about the root itself (path of length 1) go to the root node; a ``subagent_end`` of
the root (as ``run_team`` gives its ``on_event``) closes the root with the whole usage tree.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from subagents.events import (
    BaseEvent,
    ModelEnd,
    ModelStart,
    RunEnd,
    SubagentEnd,
    SubagentRetry,
    SubagentStart,
    TextDelta,
)

__all__ = ["TEXT_TAIL", "DelegationNode", "EventTree", "RunReport", "replay_report"]

TEXT_TAIL = 80
"""Characters of an agent's latest text kept for the live view."""
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
        cost: US dollars of its own model calls; None when one had no known price.
        result: the delegation result (text or JSON object), None while running.
        error: its error text, if any.
        tool_call_id: the parent's tool call that started it ("" for the root).
        background: started by a background delegation.
        text: the tail (``TEXT_TAIL`` characters) of its latest model output.
        duration: seconds it ran, as its usage record says (None: from started/ended).
        children: delegations it made, in the order they started.
        refused: the runtime refused the delegation; nothing ran (``status`` says why).
        attempts: attempts run so far (``Agent.retry``; 1 without retries).
        errors: the errors of its failed attempts.
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
    cost: float | None = 0.0
    result: Any = None
    error: str | None = None
    tool_call_id: str = ""
    background: bool = False
    text: str = ""
    duration: float | None = None
    children: list[DelegationNode] = field(default_factory=list)
    refused: bool = False
    attempts: int = 1
    errors: list[str] = field(default_factory=list)

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
        elif isinstance(event, SubagentRetry):
            node.attempts = max(node.attempts, event.attempt + 1)
            node.errors.append(event.error or event.status.value)
            node.error, node.text = event.error, f"retrying (attempt {event.attempt + 1})"
        elif isinstance(event, ModelStart):
            self._fresh.add(node.key)
        elif isinstance(event, TextDelta):
            base = "" if node.key in self._fresh else node.text
            self._fresh.discard(node.key)
            node.text = (base + event.text)[-TEXT_TAIL:]
        elif isinstance(event, ModelEnd):
            self._model_end(node, event)
        elif isinstance(event, RunEnd):
            self._run_end(node, event)
        return node

    def _run_end(self, node: DelegationNode, event: RunEnd) -> None:
        """``stream_events``' last event: the root's usage tree, status and answer."""
        usage = event.output.get("usage")
        if isinstance(usage, Mapping):
            self.apply_usage(node, usage)
        if node.status == "running":
            node.status = "interrupted" if event.output.get("__interrupt__") else "completed"
        node.ended = event.ts
        messages = event.output.get("messages") or []
        if messages and getattr(messages[-1], "type", "") == "ai":
            self.answer = str(messages[-1].content)

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
        node.cost = None if event.cost is None or node.cost is None else node.cost + event.cost
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
        node.result, node.error, node.refused = event.result, event.error, event.refused
        node.attempts, node.errors = max(node.attempts, event.attempts), list(event.errors)
        if event.usage:
            self.apply_usage(node, event.usage)

    def apply_usage(self, node: DelegationNode, usage: Mapping[str, Any]) -> None:
        """Set counts, durations and child statuses from a ``UsageNode.to_dict()`` tree.

        Children are matched by path and tool call id (made when missing) and moved under
        ``node`` when they were attached elsewhere.
        """
        for name in ("model_calls", "input_tokens", "output_tokens", "tool_calls"):
            setattr(node, name, int(usage.get(name) or 0))
        if "cost" in usage:  # usage trees logged before costs were priced have none
            cost = usage["cost"]
            node.cost = float(cost) if isinstance(cost, int | float) else None
        if isinstance(usage.get("seconds"), int | float):
            node.duration = float(usage["seconds"])
        if node.status == "running" and usage.get("status"):
            node.status = str(usage["status"])
        for child in _merged_attempts(usage.get("children") or []):
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


def _merged_attempts(children: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Usage children with the attempts of one delegation merged into one.

    Attempts share a path and a tool call id; the merged entry is the last attempt's, with
    the counts, seconds and children of all of them.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for index, child in enumerate(children):
        call_id = str(child.get("tool_call_id") or "") or f"#{index}"  # no id: never merged
        key = (str(child.get("path")), call_id)
        seen, entry = merged.get(key), dict(child)
        if seen is not None:
            for name in ("model_calls", "input_tokens", "output_tokens", "tool_calls",
                         "seconds"):
                entry[name] = (seen.get(name) or 0) + (child.get(name) or 0)
            entry["children"] = [*(seen.get("children") or []), *(child.get("children") or [])]
        merged[key] = entry
    return list(merged.values())


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
