"""The ``lifecycle`` node: ``agent_status``, ``agent_cancel``, ``agent_await``, ``agent_message``.

They act on the background children of the calling agent's own run (its ``RunScope``): its
own, those of the paused run it resumes and, with ``auto_cancel=False``, those of earlier
turns of its thread. Ids of another run or unknown ids are answered ``failed`` with a clear
error, ids that are gone (their kept table expired or was dropped) ``unknown_id`` with the
reason, never executed. ``agent_status`` and ``agent_cancel`` also take the job id of a
detached child (one handed to the agent's dispatcher, ``BackgroundConfig(deliver=...)``);
``agent_await`` answers such an id ``failed`` with reason ``detached`` and the job's state
(its result goes to its delivery target, the run does not wait for it). A
lifecycle tool named in the agent's ``needs_approval`` waits for a human first. Background
children need an async run: in a sync run every lifecycle call is answered ``failed``.

``agent_message(id, text)`` (opt-in: ``BackgroundConfig(tools=(..., "message"))``) queues a
follow-up for a running child: its next model call reads it as a human message the runtime
marks (``additional_kwargs[NUDGE_KEY] == PARENT_MESSAGE``, content prefixed
:data:`MESSAGE_PREFIX`; see :func:`parent_messages`), and a ``subagent_message`` event is
emitted at the child's path. An id of a child that ended or was cancelled, or an unknown id,
gets a typed refusal. The messages are kept in the child's record in the parent's checkpoint
(``background`` channel), so a child re-attached after a restart still gets them, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig

from subagents.events import SubagentMessage
from subagents.nodes._approval import approve_tool
from subagents.nodes._node import AgentNode, step_node
from subagents.nodes._turn import PARENT_MESSAGE
from subagents.nodes.plan import NUDGE_KEY, AgentPlan
from subagents.nodes.state import BACKGROUND_KEY
from subagents.results import json_text
from subagents.runtime.background import BackgroundTable, MissingId
from subagents.runtime.scope import RunScope, scope_of
from subagents.runtime.steps import Step

__all__ = ["MAX_ID_CHARS", "MESSAGE_PREFIX", "PARENT_MESSAGE", "make_lifecycle_node",
           "parent_messages"]

MAX_ID_CHARS = 200
"""Longer ids are answered ``failed`` without a lookup and without echoing them whole."""

_NEEDS_ASYNC = "background sub-agents need an async run (ainvoke/astream)"
MESSAGE_PREFIX = "[Message from the agent that started this task] "
"""What the child's model reads before the parent's text."""


def parent_messages(scope: RunScope | None, history: list[AnyMessage]) -> list[HumanMessage]:
    """The ``agent_message`` follow-ups a background child's model call reads now (taken).

    Args:
        scope: the child's run scope (a background child's: its parent holds the table).
        history: the child's messages; a message already in it (same id: sent again to a
            child re-attached after a restart) is not read twice.

    Returns:
        Human messages marked ``additional_kwargs[NUDGE_KEY] = PARENT_MESSAGE`` (runtime-
        written, not a new task), with ids ``msg-<tool_call_id>-<n>``; usually none.
    """
    call = scope.call if scope is not None else None
    parent = scope.parent if scope is not None else None
    table = parent.background if parent is not None else None
    if call is None or not call.background or table is None or not table.mail:
        return []
    unread = table.take_messages(call)
    seen = {m.id for m in history} if unread else set()
    return [HumanMessage(content=MESSAGE_PREFIX + text, id=message_id,
                         additional_kwargs={NUDGE_KEY: PARENT_MESSAGE})
            for message_id, text in unread if message_id not in seen]


def _message(tc: ToolCall, payload: dict[str, Any]) -> dict[str, Any]:
    failed = payload.get("status") in ("failed", "unknown_id")
    msg = ToolMessage(content=json_text(payload),
                      tool_call_id=tc["id"] or "", name=tc["name"],
                      status="error" if failed else "success")
    return {"messages": [msg]}


def _error(text: str) -> dict[str, Any]:
    return {"status": "failed", "error": text}


async def _handle(plan: AgentPlan, table: BackgroundTable, tc: ToolCall) -> dict[str, Any]:
    args, name = tc["args"], tc["name"]
    if name == "agent_await":
        return await _await(plan, table, args)
    job_id = args.get("id")
    if not isinstance(job_id, str):
        return _error("'id' must be a background id string")
    if len(job_id) > MAX_ID_CHARS:
        return _too_long(job_id)
    if name == "agent_message":
        text = args.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error("'text' must be a non-empty string")
        return table.message(job_id, text)
    job = table.lookup(job_id)
    dispatcher = table.config.dispatcher
    if isinstance(job, MissingId) and dispatcher is not None:  # a detached child's job id
        detached = await (dispatcher.cancel(job_id) if name == "agent_cancel"
                          else dispatcher.status(job_id))
        if detached is not None:
            return dict(detached)
    if name == "agent_cancel":
        return table.cancel(job_id)
    return job.as_dict()


async def _await(plan: AgentPlan, table: BackgroundTable,
                 args: dict[str, Any]) -> dict[str, Any]:
    """``agent_await(ids, mode)``: the children's results, or why the call is wrong."""
    ids, mode = args.get("ids"), args.get("mode", (plan.background or table.config)
                                          .await_modes[0])
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return _error("'ids' must be a list of background ids")
    if (long := next((i for i in ids if len(i) > MAX_ID_CHARS), None)) is not None:
        return _too_long(long)
    if mode not in table.config.await_modes:
        return _error(f"unknown mode {mode!r}; modes: {', '.join(table.config.await_modes)}")
    detached = await _detached(table, ids)
    if detached is not None:
        return {**detached, "mode": mode, "results": []}
    return await table.wait(ids, mode)


def _too_long(job_id: str) -> dict[str, Any]:
    """A ``failed`` answer to an id no background child can have (not echoed back whole)."""
    return _error(f"an id of {len(job_id):,} characters ({job_id[:40]!r}...) is no background "
                  f"id (ids are at most {MAX_ID_CHARS} characters, such as 'bg_...')")


async def _detached(table: BackgroundTable, ids: list[str]) -> dict[str, Any] | None:
    """A ``failed`` answer naming the first detached job among ``ids`` (None: there is none).

    A detached child is delivered to its target when it ends; its run does not wait for it.
    """
    dispatcher = table.config.dispatcher
    if dispatcher is None:
        return None
    for job_id in ids:
        if isinstance(table.lookup(job_id), MissingId) and (
                job := await dispatcher.status(job_id)) is not None:
            return {"id": job_id, "status": "failed", "reason": "detached", "job": job,
                    "error": f"id {job_id!r} is a detached job (its result is delivered to its "
                             "target when it ends, not awaited); agent_status gives its state "
                             "now, agent_cancel stops it"}
    return None


@dataclass(frozen=True, slots=True)
class _TableCall:
    """Act on the run's background table for one lifecycle call (a request).

    Its result is the payload to answer with: in a sync run the refusal (background children
    need an async run), in an async run the approval (when asked) and then the action.
    """

    plan: AgentPlan
    table: BackgroundTable
    call: ToolCall

    def run(self) -> dict[str, Any]:
        return _error(_NEEDS_ASYNC)

    async def arun(self) -> dict[str, Any]:
        plan, tc = self.plan, self.call
        if tc["name"] in plan.agent.needs_approval and (
                rejected := approve_tool(plan.path, tc)) is not None:
            return _error(rejected)
        return await _handle(plan, self.table, tc)


def _sent(scope: RunScope, payload: dict[str, Any], tc: ToolCall,
          config: RunnableConfig) -> None:
    """Emit ``subagent_message`` at the child's path for a message ``agent_message`` sent."""
    table = scope.background
    job = table.jobs.get(payload["id"]) if table is not None else None
    if job is None:
        return
    scope.emit(SubagentMessage(path=[*scope.usage.path, job.agent], agent=job.agent,
                               tool_call_id=job.tool_call_id, id=job.id,
                               message_id=payload["message_id"], text=tc["args"]["text"]),
               config)


def make_lifecycle_node(plan: AgentPlan) -> AgentNode:
    """Build the ``lifecycle`` node: input ``{"tool_call": ToolCall}`` (a ``Send``)."""

    def step(payload: dict[str, Any], config: RunnableConfig) -> Step[dict[str, Any]]:
        tc: ToolCall = payload["tool_call"]
        scope = scope_of(config)
        if scope is None or scope.background is None:
            return _message(tc, _error(_NEEDS_ASYNC))
        payload = yield _TableCall(plan, scope.background, tc)
        if payload.get("status") == "sent" and scope.wants_events(config):
            _sent(scope, payload, tc, config)
        update = _message(tc, payload)
        records = scope.background.records()  # on a checkpointer thread: the table persists
        return {**update, BACKGROUND_KEY: records} if records else update

    return step_node(step, name="lifecycle")
