"""``run_team``: run a team once and gather its delegation tree from the run's events.

The run goes through ``observe(on_event=...)``: every event of every depth feeds an
``EventTree`` (``subagents.cli.tree``) and, optionally, a caller's sink (e.g. an
``EventLog``). After the run, the root's usage tree (``UsageNode.to_dict()``) settles every
node's counts and status.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents.cli.tree import DelegationNode, EventTree, RunReport, replay_report
from subagents.events import BaseEvent, SubagentEnd, SubagentStart
from subagents.graphs import compile_agent
from subagents.results import Status
from subagents.runtime.observe import observe
from subagents.spec import Agent

__all__ = ["DelegationNode", "EventTree", "RunReport", "replay_report", "run_team"]

_log = logging.getLogger("subagents")


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


def _as_text(value: Any) -> str:
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json(indent=2))
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
