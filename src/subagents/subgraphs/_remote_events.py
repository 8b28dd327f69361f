"""A remote sub-agent's events and usage, brought into the local run's one tree.

A remote child gets a local :class:`~subagents.runtime.scope.RunScope` like a local child: its path
is its caller's path plus its name, it is linked to the caller's scope, so its usage node
sits in the local usage tree and the delegation's ``subagent_end`` carries it.

Events: when the local run wants them (``RunScope.wants_events``) or the local tree has a
``Budget``, the remote run is streamed with ``subgraphs=True``. A subagents graph is streamed
with LangGraph's ``custom`` stream mode (:class:`Relay`): on the server our nodes write
each event there, at every depth, only when the run streams ``custom`` with subgraphs. Each
chunk is parsed back into its typed event (``EVENT_ADAPTER``), rebased onto the local path
(the remote root's name, the first element of every remote path, becomes the local child's
path) and re-emitted through the child's scope: listeners, sinks, ``stream_events`` and the
local ``custom`` stream see one tree. A malformed chunk is logged and skipped. A graph that
is no subagents graph (a ``create_agent`` graph: its state has no ``usage``, asked once of the
server) writes no events: it is streamed with the ``updates`` mode instead
(:class:`ForeignRelay`), and each model reply and tool result in a node's update becomes
``model_start``/``model_end`` and ``tool_start``/``tool_end`` at the child's path.

Budget: each remote model reply (a ``model_end`` event, or an AI message in an update) is
charged to the local tree's ``Budget`` as it arrives: one model call, its ``total_tokens``,
a tool round when it asks for tools. Remote calls cannot be reserved before they are made,
so the limits hold after the fact: when a reply that asks for more work (tool calls) finds
the budget out, the relay raises :class:`RemoteOverBudget`; the remote child then cancels the
remote run and ends ``over_budget``.

Usage: after the run, the remote root's final ``usage`` state value (root graphs write it)
becomes the child's usage node (its model calls, tokens, tool calls) and children, rebased
the same way, so the local totals include the remote work. A remote graph that is no
subagents graph (a ``create_agent`` graph) writes no ``usage``: the child's node then counts
the AI messages of the delegation's own part of its final ``messages`` (one model call each,
their ``usage_metadata`` tokens and tool calls), or, when it was streamed, counts them as they
arrive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.types import StreamMode

from subagents.errors import SubagentsError
from subagents.events import (
    EVENT_ADAPTER,
    BaseEvent,
    ModelEnd,
    ModelStart,
    SubagentEnd,
    ToolEnd,
    ToolStart,
)
from subagents.runtime.call import CALL_KEY, SCOPE_KEY, CallInfo
from subagents.runtime.scope import RunScope
from subagents.runtime.upstream import CONFIG_KEY_STREAM
from subagents.runtime.usage import UsageNode

__all__ = ["ForeignRelay", "Relay", "RemoteOverBudget", "attach_usage", "charge", "open_relay",
           "open_scope", "rebase_event", "to_messages", "usage_node"]

_log = logging.getLogger("subagents")


def open_scope(name: str, config: RunnableConfig | None) -> RunScope | None:
    """The local scope of one remote child run (None outside a subagents run).

    The caller's scope comes from ``config`` or, as for a local child graph, from the
    delegation node's config in LangGraph's context; ``CALL_KEY`` names the delegation.
    """
    passed = (config or {}).get("configurable", {})
    ambient = (var_child_runnable_config.get() or {}).get("configurable", {})
    parent = passed.get(SCOPE_KEY) or ambient.get(SCOPE_KEY)
    if not isinstance(parent, RunScope):
        return None
    call = passed.get(CALL_KEY)
    return RunScope(agent=name, path=(*parent.usage.path, name), parent=parent,
                    call=call if isinstance(call, CallInfo) else None, budget=None,
                    background=None)


def open_relay(name: str, config: RunnableConfig | None,
               ) -> tuple[RunScope | None, Relay | None]:
    """(the remote child's local scope, a relay of its run when it is to be streamed).

    Streamed when the delegation node's scope has listeners or its run streams ``custom``
    (the node's config is LangGraph's context config), or the tree has a ``Budget`` to
    charge; otherwise the relay is ``None``, and the remote run is not streamed at all.
    The relay is a :class:`Relay` (a subagents graph's events); see :meth:`Relay.foreign`.
    """
    scope = open_scope(name, config)
    node = var_child_runnable_config.get()
    if scope is None or not (scope.budget is not None or scope.wants_events(node)):
        return scope, None
    return scope, Relay(scope, node)


_EXACT: dict[str, type[AIMessage] | type[ToolMessage]] = {"ai": AIMessage, "tool": ToolMessage}


def to_messages(raw: list[Any]) -> list[BaseMessage]:
    """Messages from a remote state's JSON (``{"type": "ai", ...}`` dicts, or messages).

    AI and tool messages are validated as such, so ``usage_metadata`` and ``status`` are
    kept (``convert_to_messages`` moves them into ``additional_kwargs``); others go through
    ``convert_to_messages``.
    """
    out: list[BaseMessage] = []
    for item in raw:
        exact = _EXACT.get(str(item.get("type"))) if isinstance(item, Mapping) else None
        if exact is not None:
            out.append(exact.model_validate(dict(item)))
        else:
            out.extend(convert_to_messages([item]))
    return out


class RemoteOverBudget(SubagentsError):
    """The local ``Budget`` ran out during a remote run that asked for more work."""


def charge(scope: RunScope, tokens: int, *, more: bool) -> str | None:
    """Charge one remote model reply to the local budget (spent counters and trackers).

    Args:
        scope: the remote child's local scope.
        tokens: the reply's ``total_tokens`` (0 when unknown).
        more: the reply asks for tools (the remote agent goes on).

    Returns:
        Why the remote run must stop (a reply asking for more once the budget is out, or a
        tool round past ``max_tool_rounds``), or None.
    """
    budget = scope.budget
    if budget is None:
        return None
    budget.restore({"model_calls": 1, "tokens": tokens})  # counted after the fact
    scope.add_spent(model_calls=1, tokens=tokens)
    if not more:
        return None
    reason = budget.reserve_round()
    if reason is None:
        scope.add_spent(tool_rounds=1)
        reason = budget.exhausted()
    return reason


def _rebase_path(path: Any, base: tuple[str, ...]) -> list[str]:
    """Remote ``[root, *rest]`` -> local ``[*base, *rest]``."""
    if not isinstance(path, list | tuple) or not path:
        msg = f"not an ancestry path: {path!r}"
        raise ValueError(msg)
    return [*base, *(str(p) for p in path[1:])]


def _rebase_usage(data: Mapping[str, Any], base: tuple[str, ...]) -> dict[str, Any]:
    """A ``UsageNode.to_dict()`` with every path rebased (a root node keeps its own)."""
    out = dict(data)
    if "path" in out:
        out["path"] = _rebase_path(out["path"], base)
    out["children"] = [_rebase_usage(c, base) for c in out.get("children") or []
                       if isinstance(c, Mapping)]
    return out


def rebase_event(event: BaseEvent, scope: RunScope) -> BaseEvent:
    """A remote event as the local child at ``scope`` would have emitted it.

    Args:
        event: parsed from the remote custom stream (its path starts at the remote root).
        scope: the remote child's local scope.
    """
    base = scope.usage.path
    path = _rebase_path(event.path, base)
    update: dict[str, Any] = {"path": path, "agent": path[-1]}
    if len(event.path) == 1:  # the remote root itself: started by the local tool call
        update["tool_call_id"] = scope.usage.tool_call_id
    if isinstance(event, SubagentEnd) and event.usage:
        update["usage"] = _rebase_usage(event.usage, base)
    return event.model_copy(update=update)


class Relay:
    """Re-emits a remote run's custom chunks through the remote child's local scope.

    Args:
        scope: the remote child's local scope.
        config: the delegation node's config (the local ``custom`` stream and namespace).
    """

    __slots__ = ("_ns", "_stream", "config", "count", "scope")

    mode: ClassVar[StreamMode] = "custom"
    """The remote run's stream mode."""

    def __init__(self, scope: RunScope, config: RunnableConfig | None) -> None:
        self.scope = scope
        self.config = config
        self.count = 0
        """Events relayed so far."""
        conf = (config or {}).get("configurable", {})
        stream = conf.get(CONFIG_KEY_STREAM)
        self._stream = stream if stream is not None and "custom" in stream.modes else None
        # a local child's nodes write under the delegation node's namespace
        self._ns = tuple(s for s in str(conf.get("checkpoint_ns", "")).split("|") if s)

    def foreign(self) -> ForeignRelay:
        """The relay for a remote graph that is no subagents graph (same scope and stream)."""
        return ForeignRelay(self.scope, self.config)

    def part(self, part: Any) -> None:
        """One part of ``RemoteGraph.astream(stream_mode="custom", subgraphs=True)``."""
        if isinstance(part, tuple) and len(part) == 2:
            self.chunk(part[0], part[1])
        else:
            self.chunk((), part)

    def chunk(self, ns: Any, data: Any) -> None:
        """One ``custom`` chunk of the remote run (``ns``: its remote namespace).

        Raises:
            RemoteOverBudget: a ``model_end`` found the local budget out (see :func:`charge`).
        """
        try:
            event = rebase_event(EVENT_ADAPTER.validate_python(data), self.scope)
        except Exception as exc:  # someone else's custom chunk, or a broken one: skip it
            _log.warning("subagents: skipped a custom chunk of remote sub-agent %r that is "
                         "no event (%s: %.200s): %.200r", self.scope.usage.agent,
                         type(exc).__name__, exc, data)
            return
        self.emit(event, ns)
        if isinstance(event, ModelEnd):
            tokens = int((event.usage or {}).get("total_tokens") or 0)
            if reason := charge(self.scope, tokens, more=bool(event.tool_calls)):
                raise RemoteOverBudget(reason)

    def emit(self, event: BaseEvent, ns: Any) -> None:
        """Re-emit a local event: listeners, sinks and the local ``custom`` stream."""
        self.count += 1
        self.scope.emit(event, None)  # listeners and sinks; the local stream below
        if self._stream is not None:
            remote_ns = tuple(str(n) for n in ns) if isinstance(ns, list | tuple) else ()
            try:
                self._stream((self._ns + remote_ns, "custom", event.model_dump(mode="json")))
            except Exception:  # the stream is closed: the run is ending anyway
                _log.exception("subagents: could not write a remote event to the stream")


class ForeignRelay(Relay):
    """Turns a foreign remote graph's ``updates`` into events, usage and budget charges.

    Every AI message in a node's update (at any depth, each message once) is one model call
    of the child: ``model_start`` and ``model_end``, counted in its usage node and charged to
    the budget, then a ``tool_start`` per tool call; a tool message is that call's
    ``tool_end``. All at the child's own path (a foreign graph has no sub-agents of ours).
    """

    __slots__ = ("_seen", "_tools", "counted")

    mode: ClassVar[StreamMode] = "updates"

    def __init__(self, scope: RunScope, config: RunnableConfig | None) -> None:
        super().__init__(scope, config)
        self._seen: set[str] = set()
        self._tools: dict[str, str] = {}
        self.counted = False
        """Model replies were counted as they arrived (``attach_usage`` leaves them)."""

    def part(self, part: Any) -> None:
        """One part of ``RemoteGraph.astream(stream_mode="updates", subgraphs=True)``.

        Raises:
            RemoteOverBudget: a reply asking for tools found the local budget out.
        """
        ns, data = part if isinstance(part, tuple) and len(part) == 2 else ((), part)
        if not isinstance(data, Mapping):
            return
        for node, update in data.items():
            if str(node).startswith("__") or not isinstance(update, Mapping):
                continue  # an interrupt, or an update without state of ours
            raw = update.get("messages")
            try:
                messages = to_messages(raw if isinstance(raw, list) else [])
            except Exception:
                _log.warning("subagents: skipped an update of remote sub-agent %r with "
                             "unreadable messages", self.scope.usage.agent)
                continue
            for message in messages:
                self.message(message, ns)

    def message(self, message: BaseMessage, ns: Any) -> None:
        """One message of a node's update (seen once, by id)."""
        key = message.id or str(id(message))
        if key in self._seen:
            return
        self._seen.add(key)
        ids = {"path": list(self.scope.usage.path), "agent": self.scope.usage.agent,
               "tool_call_id": self.scope.usage.tool_call_id}
        if isinstance(message, ToolMessage):
            name = self._tools.pop(message.tool_call_id, message.name or "tool")
            self.emit(ToolEnd(**ids, name=name, call_id=message.tool_call_id,
                              status="error" if message.status == "error" else "success",
                              content=str(message.content)[:2000]), ns)
        elif isinstance(message, AIMessage):
            self._reply(message, ids, ns)

    def _reply(self, ai: AIMessage, ids: dict[str, Any], ns: Any) -> None:
        usage = ai.usage_metadata
        self.counted = True
        self.scope.usage.record_model_call(usage, len(ai.tool_calls))
        self.emit(ModelStart(**ids, messages=len(self._seen)), ns)
        self.emit(ModelEnd(**ids, text=ai.text[:500], usage=dict(usage) if usage else None,
                           tool_calls=[tc["name"] for tc in ai.tool_calls]), ns)
        reason = charge(self.scope, int(usage["total_tokens"]) if usage else 0,
                        more=bool(ai.tool_calls))
        if reason:
            raise RemoteOverBudget(reason)
        for tc in ai.tool_calls:
            self._tools[tc["id"] or ""] = tc["name"]
            self.emit(ToolStart(**ids, name=tc["name"], call_id=tc["id"] or "",
                                args=dict(tc["args"])), ns)


def usage_node(data: Mapping[str, Any], base: tuple[str, ...]) -> UsageNode:
    """A ``UsageNode`` from a remote ``UsageNode.to_dict()``, paths rebased onto ``base``."""
    now = time.monotonic()
    seconds = float(data.get("seconds") or 0.0)
    node = UsageNode(agent=str(data.get("agent") or ""),
                     path=tuple(_rebase_path(data.get("path"), base)),
                     tool_call_id=data.get("tool_call_id"), objective=data.get("objective"),
                     background=bool(data.get("background")), status=data.get("status"),
                     started=now - seconds, ended=now)
    _copy_counts(data, node)
    for child in data.get("children") or []:
        if isinstance(child, Mapping):
            node.add_child(usage_node(child, base))
    return node


def _counts(data: Mapping[str, Any]) -> tuple[int, int, int, int]:
    return (int(data.get("model_calls") or 0), int(data.get("input_tokens") or 0),
            int(data.get("output_tokens") or 0), int(data.get("tool_calls") or 0))


def _copy_counts(data: Mapping[str, Any], node: UsageNode) -> None:
    (node.model_calls, node.input_tokens, node.output_tokens,
     node.tool_calls) = _counts(data)


def attach_usage(scope: RunScope | None, state: dict[str, Any],
                 relay: Relay | None = None) -> dict[str, Any]:
    """Make the remote root's final ``usage`` the child's own counts and children.

    Returns ``state`` unchanged. A ``usage`` that is no usage dict is logged and ignored
    (the child's node keeps zero counts). A foreign graph's replies a :class:`ForeignRelay`
    (``relay``) counted as they arrived are not counted again.
    """
    usage = state.get("usage")
    if scope is None:
        return state
    if usage is None:  # a graph of someone else's (create_agent): read its AI messages
        if not (isinstance(relay, ForeignRelay) and relay.counted):
            _count_messages(scope, state.get("messages") or [])
        return state
    try:
        if not isinstance(usage, Mapping):
            msg = f"not a dict: {usage!r:.200}"
            raise TypeError(msg)
        counts = _counts(usage)
        children = [usage_node(c, scope.usage.path) for c in usage.get("children") or []
                    if isinstance(c, Mapping)]
    except Exception:
        _log.exception("subagents: could not read the usage of remote sub-agent %r",
                       scope.usage.agent)
        return state
    node = scope.usage
    node.model_calls, node.input_tokens, node.output_tokens, node.tool_calls = counts
    for child in children:
        node.add_child(child)
    if node.status is None and isinstance(usage.get("status"), str):
        node.status = usage["status"]
    return state


def _count_messages(scope: RunScope, messages: list[Any]) -> None:
    """Count a foreign remote graph's AI replies in the child's usage node."""
    for message in messages:
        if isinstance(message, AIMessage):
            scope.usage.record_model_call(message.usage_metadata, len(message.tool_calls))
