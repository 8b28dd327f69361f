"""The ``lifecycle`` node: ``agent_status``, ``agent_cancel`` and ``agent_await`` tool calls.

They act on the background children of the calling agent's own run (its ``RunScope``): its
own, those of the paused run it resumes and, with ``auto_cancel=False``, those of earlier
turns of its thread. Ids of another run or unknown ids are answered ``failed`` with a clear
error, ids that are gone (their kept table expired or was dropped) ``unknown_id`` with the
reason, never executed. ``agent_status`` and ``agent_cancel`` also take the job id of a
detached child (one handed to the agent's dispatcher, ``BackgroundConfig(deliver=...)``). A
lifecycle tool named in the agent's ``needs_approval`` waits for a human first. Background
children need an async run: in a sync run every lifecycle call is answered ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig

from subagents.nodes._approval import approve_tool
from subagents.nodes._node import AgentNode, step_node
from subagents.nodes.plan import AgentPlan
from subagents.nodes.state import BACKGROUND_KEY
from subagents.results import json_text
from subagents.runtime.background import BackgroundTable, MissingId
from subagents.runtime.scope import scope_of
from subagents.runtime.steps import Step

__all__ = ["make_lifecycle_node"]

_NEEDS_ASYNC = "background sub-agents need an async run (ainvoke/astream)"


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
        ids, mode = args.get("ids"), args.get("mode", (plan.background or table.config)
                                              .await_modes[0])
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error("'ids' must be a list of background ids")
        if mode not in table.config.await_modes:
            return _error(f"unknown mode {mode!r}; modes: {', '.join(table.config.await_modes)}")
        return await table.wait(ids, mode)
    job_id = args.get("id")
    if not isinstance(job_id, str):
        return _error("'id' must be a background id string")
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


def make_lifecycle_node(plan: AgentPlan) -> AgentNode:
    """Build the ``lifecycle`` node: input ``{"tool_call": ToolCall}`` (a ``Send``)."""

    def step(payload: dict[str, Any], config: RunnableConfig) -> Step[dict[str, Any]]:
        tc: ToolCall = payload["tool_call"]
        scope = scope_of(config)
        if scope is None or scope.background is None:
            return _message(tc, _error(_NEEDS_ASYNC))
        update = _message(tc, (yield _TableCall(plan, scope.background, tc)))
        records = scope.background.records()  # on a checkpointer thread: the table persists
        return {**update, BACKGROUND_KEY: records} if records else update

    return step_node(step, name="lifecycle")
