"""Background children that survive a restart: re-attaching them from the parent's checkpoint.

With ``BackgroundConfig(persist=None)`` (the default) or ``True`` on a thread of a
checkpointer, each background child runs on its own checkpoint thread (``<parent
thread>/bg/<tool_call_id>``, see ``nodes.persistent.own_thread``), and the parent's
``background`` state channel keeps its table: ids, agents, objectives, thread ids, statuses,
results and messages (``runtime.records.JobRecord``), written when a child starts and at
every lifecycle call. A root run that continues its thread (a resume: input None or a
``Command``; or any new turn with ``BackgroundConfig(auto_cancel=False)``) and finds no
table parked in this process (``runtime.parking``: same process) re-attaches the table from
its checkpoint (:func:`reattach`); so does every nested agent such a run resumes (its
delegation was cut short: it resumes from its checkpoint in the root's thread, which keeps
its own table): settled children with their results, unfinished ones
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

    A root run (no delegation started it) that continues its thread is remembered, so the
    nested agents its resumed delegations resume re-attach their own tables too.

    Args:
        scope: the run's scope (None: no agent plan).
        input: the run's input (None or a ``Command``: it continues its thread).
        nested: the run has no thread of its own (no thread_id, or a ``checkpoint_ns``).

    Returns:
        True for an agent with background children persisted (``persist`` not False) that
        adopted no parked table and: is a root continuing its thread (or starting a new turn
        with ``auto_cancel=False``), or is a sub-agent inside such a root's run (its
        delegation resumed: its checkpoint may keep a table).
    """
    if scope is None:
        return False
    resumes = input is None or isinstance(input, Command)
    if resumes and scope.call is None:
        scope.continues_thread = True
    table = scope.background
    if table is None or table.config.persist is False or scope.adopted:
        return False
    if nested:
        return scope.call is not None and _in_resumed_run(scope)
    return resumes or not table.config.auto_cancel


def _in_resumed_run(scope: RunScope) -> bool:
    """Whether ``scope`` runs under a root run that continues its thread."""
    above = scope.parent
    while above is not None:
        if above.continues_thread:
            return True
        above = above.parent
    return False


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
    scope.host()  # their events go to this run's stream once it is known
    count = 0
    for value in records.values():
        record = JobRecord.read(value)
        if record is not None and record.id not in table.jobs and not gone(record.id):
            _one(table, plan, record, own)
            count += 1
    return count


def _as_node(config: RunnableConfig, node: str, tool_call_id: str) -> RunnableConfig:
    """``config`` (the run's) as the config of the delegation node that started a child.

    Its ``checkpoint_ns`` gets a last segment ``<node>:<tool_call_id>``, so the child's
    events and stream parts carry the namespaces they had before the restart
    (``runtime.streaming.child_namespace``).
    """
    conf = config.get("configurable", {})
    ns = str(conf.get("checkpoint_ns") or "")
    segment = f"{node}:{tool_call_id}"
    return {**config, "configurable": {
        **conf, "checkpoint_ns": f"{ns}|{segment}" if ns else segment}}


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
    job = spawn_background(link, table, tc, task, call,
                           _as_node(config, link.node, record.tool_call_id), job_id=record.id)
    table.resend(job, record.messages)
