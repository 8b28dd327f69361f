"""Background children that survive a restart: re-attaching them from the parent's checkpoint.

With ``BackgroundConfig(persist=True)`` on a thread of a checkpointer, each background child
runs on its own checkpoint thread (``<parent thread>/bg/<tool_call_id>``, see
``nodes.persistent.own_thread``), and the parent's ``background`` state channel keeps its
table: ids, agents, objectives, thread ids, statuses, results and messages
(``runtime.records.JobRecord``), written when a child starts and at
every lifecycle call. A root run that continues its thread (a resume: input None or a
``Command``; or any new turn with ``BackgroundConfig(auto_cancel=False)``) and finds no
table parked in this process (``runtime.parking``: same process) re-attaches the table from
its checkpoint (:func:`reattach`): settled children with their results, unfinished ones
resumed on their own threads from their last checkpoint (no finished model or tool call
runs again; a child whose thread has no checkpoint yet starts from its objective), same ids.
Ids this process already dropped (an expired or discarded parked table, see
``runtime.parking``) stay gone. A child that cannot be resumed (its agent is no sub-agent
of the parent any more) ends ``failed`` with the reason: every child ends with a status the
parent can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from langchain_core.messages import HumanMessage, ToolCall
from langchain_core.runnables import RunnableConfig
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.types import Command

from subagents.nodes.child_call import spawn_background
from subagents.nodes.plan import AgentPlan
from subagents.nodes.state import BACKGROUND_KEY
from subagents.runtime.background import BackgroundTable, JobRecord, gone
from subagents.runtime.call import CallInfo
from subagents.runtime.scope import RunScope
from subagents.runtime.upstream import CONFIG_KEY_DURABILITY

__all__ = ["reattach", "reattaching"]


def reattaching(scope: RunScope | None, input: Any, nested: bool) -> bool:
    """Whether a run should re-attach its thread's background children from the checkpoint.

    Args:
        scope: the run's scope (None: no agent plan).
        input: the run's input (None or a ``Command``: it continues its thread).
        nested: the run is a sub-agent's (re-attaching is for roots).

    Returns:
        True for a root with ``BackgroundConfig(persist=True)`` that adopted no parked table
        and continues its thread (or starts a new turn with ``auto_cancel=False``).
    """
    table = scope.background if scope is not None else None
    if table is None or table.config.persist is False or nested or (
            scope is not None and scope.adopted):
        return False
    return input is None or isinstance(input, Command) or not table.config.auto_cancel


def reattach(scope: RunScope, plan: AgentPlan, values: Mapping[str, Any],
             config: RunnableConfig, saver: Any, durability: Any = None, *,
             pending: bool = True) -> int:
    """Re-attach the background children the run's checkpoint keeps (see module docstring).

    Must run on the run's event loop (unfinished children start as its tasks).

    Args:
        scope: the run's scope (with a background table).
        plan: the agent's plan (its children by name).
        values: the thread's state values (its ``background`` channel).
        config: the run's config (its thread, its scope).
        saver: the run's checkpointer (None: nothing to resume on; nothing is re-attached).
        durability: the run's durability mode, for the resumed children too.
        pending: the thread has nodes to run (it paused or crashed). A thread that
            completed re-attaches only with ``auto_cancel=False`` (its children outlive the
            turn); else they were cancelled when it ended.

    Returns:
        How many children were re-attached.
    """
    table = scope.background
    records = values.get(BACKGROUND_KEY)
    if (table is None or saver is None or not isinstance(records, dict)
            or not (pending or not table.config.auto_cancel)):
        return 0
    conf = {**config.get("configurable", {}), CONFIG_KEY_CHECKPOINTER: saver}
    if durability is not None:
        conf[CONFIG_KEY_DURABILITY] = durability
    own: RunnableConfig = {**config, "configurable": conf}
    count = 0
    for value in records.values():
        record = JobRecord.read(value)
        if record is not None and record.id not in table.jobs and not gone(record.id):
            _one(table, plan, record, own)
            count += 1
    return count


def _one(table: BackgroundTable, plan: AgentPlan, record: JobRecord,
         config: RunnableConfig) -> None:
    """Re-attach one child: settled as recorded, resumed, or ``failed`` with the reason."""
    if record.status != "running":
        table.settled_job(record)
        return
    link = plan.children.get(record.agent)
    if link is None or link.graph is None:
        table.settled_job(replace(record, status="failed", error=(
            f"cannot resume background sub-agent {record.agent!r} after a restart: it is no "
            f"sub-agent of {plan.agent.name!r} any more")))
        return
    args: dict[str, Any] = {"objective": record.objective, "background": True}
    if link.tool == "task":
        args["agent"] = link.agent.name
    tc = ToolCall(name=link.tool, args=args, id=record.tool_call_id, type="tool_call")
    call = CallInfo(tool_call_id=record.tool_call_id, objective=record.objective,
                    background=True, retried=link.agent.retry is not None)
    task = {"messages": [HumanMessage(content=record.objective)]}
    job = spawn_background(link, table, tc, task, call, config, job_id=record.id)
    table.resend(job, record.messages)
