"""Delegation nodes: one per allowed child, each running the child's compiled subgraph.

The node receives ``{"tool_call": ToolCall}`` through a ``Send`` (or ``{"tool_calls": [...]}``:
the background calls of one turn), and answers each call with exactly one ``ToolMessage``
holding the typed JSON result. Nothing a child does (an exception, ``GraphRecursionError``)
escapes to the parent, except LangGraph's interrupts (``GraphBubbleUp``) and cancellation,
which must.

The life of one delegation, top to bottom in this module, written once as a sans-IO step
(``subagents.runtime.steps``) that ``drive`` runs for ``invoke`` and ``adrive`` for
``ainvoke``:

1. :func:`delegations`: the arguments are checked (the child's one task message) or the
   call is refused; a human approves it first when the parent's ``needs_approval`` says so.
2. :func:`delegate`: a background call starts the child as a job of the parent's run, or
   hands it to the dispatcher (:func:`_background`, async runs only); any other call runs
   the child to its end.
3. :func:`~subagents.nodes.child_run.run_child` (``nodes.child_run``): ``subagent_start``,
   the attempts under the child's ``Agent.retry`` and ``Agent.timeout``, the child's final
   state read into an ``Ending``, ``subagent_end``.
4. :func:`_result`: the parent's ``ToolMessage``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolCall
from langchain_core.runnables import RunnableConfig

from subagents.nodes._approval import approve_delegation
from subagents.nodes._emit import Emitter
from subagents.nodes._node import AgentNode
from subagents.nodes._refuse import Refusal
from subagents.nodes.child_run import INTERRUPT_BEFORE_KEY, run_child
from subagents.nodes.persistent import own_thread
from subagents.nodes.plan import ChildLink
from subagents.nodes.schemas import task_message
from subagents.nodes.state import BACKGROUND_KEY
from subagents.results import Ending, Status, tool_result
from subagents.runtime.background import BackgroundTable
from subagents.runtime.call import CallInfo
from subagents.runtime.jobs import BackgroundJob
from subagents.runtime.scope import SPENT_FIELDS, SPENT_METADATA, RunScope, scope_of
from subagents.runtime.steps import AsyncOnly, Step, adrive, drive
from subagents.spec.background import BackgroundConfig
from subagents.spec.delivery import DELIVERY_KEY, Delivery, run_delivery

__all__ = ["INTERRUPT_BEFORE_KEY", "delegate", "delegations", "make_child_call_node",
           "own_thread", "run_child", "spawn_background"]

_NEEDS_ASYNC = "background delegation needs an async run (ainvoke/astream) and background=True"

_Prepared = tuple[dict[str, Any], CallInfo] | str
"""The child's input and the call's record, or why the call is refused."""


def make_child_call_node(link: ChildLink) -> AgentNode:
    """Build the sync+async delegation node for one child (named ``link.node``).

    A call with ``background: true`` (on a parent with background delegation) starts the
    child as a background job of the parent's run and returns ``{"status": "running",
    "id": ...}`` at once. ``subagent_start``/``subagent_end`` events are emitted here, on the
    parent's side, with the child's ancestry path. A call answered without running a child
    gets ``failed`` with a refused event pair: invalid arguments (no objective, a ``context``
    that is not a string, failing the child's ``input_schema``), a background call under a
    sync run or without a background table, a detached call the dispatcher rejects (or a
    run's delivery target, ``configurable["subagents_delivery"]``, that is invalid or has no
    dispatcher), a call a human rejected. When the parent's ``needs_approval`` names this
    delegation tool, every call (sync, background, detached) first waits for a human
    (``interrupt()``, see ``nodes._approval``); the child starts only after an approval,
    with any edited objective.

    Args:
        link: the child (its spec, compiled graph, node name, tool and ancestry path).

    Returns:
        The node: ``invoke`` drives :func:`delegations` synchronously (background calls
        refused), ``ainvoke`` asynchronously.
    """

    def run(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return drive(delegations(link, payload, config, spawn=False))

    async def arun(payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return await adrive(delegations(link, payload, config, spawn=True))

    return AgentNode(run, arun, name=link.node)


def delegations(link: ChildLink, payload: dict[str, Any], config: RunnableConfig, *,
                spawn: bool) -> Step[dict[str, Any]]:
    """The delegation calls of one ``Send``: one call, or the background calls of one turn.

    Every call is checked and approved before any child starts. ``spawn`` says whether
    background children can start (an async run); without it a background call is refused
    before anyone is asked to approve it.

    Returns:
        The node's update: one ``ToolMessage`` per call, in the calls' order.
    """
    calls: list[ToolCall] = (payload["tool_calls"] if "tool_calls" in payload
                             else [payload["tool_call"]])
    admitted: list[tuple[ToolCall, _Prepared]] = []
    for tc in calls:  # a loop: a comprehension would hold link and spawn in closure cells
        admitted.append(_admit(link, tc) if spawn or tc["args"].get("background") is not True
                        else (tc, _sync_background(link, tc)))
    messages: list[Any] = []
    records: dict[str, Any] = {}
    for tc, prepared in admitted:
        update = yield from delegate(link, tc, prepared, config)
        messages += update["messages"]
        records.update(update.get(BACKGROUND_KEY) or {})
    return {"messages": messages, BACKGROUND_KEY: records} if records else {"messages": messages}


def _prepare(link: ChildLink, tc: ToolCall) -> _Prepared:
    """The child's input and call record, or why the arguments are invalid."""
    message = task_message(link.agent, tc["args"], shared_tool=tc["name"] == "task")
    if isinstance(message, str):
        return message
    call = CallInfo(tool_call_id=tc["id"] or "", objective=str(message.content),
                    background=tc["args"].get("background") is True,
                    retried=link.agent.retry is not None)
    return {"messages": [message]}, call


def _admit(link: ChildLink, tc: ToolCall) -> tuple[ToolCall, _Prepared]:
    """:func:`_prepare`, then a human's approval when the parent needs one (edits applied).

    Raises:
        GraphInterrupt: the run pauses for the human's answer.
    """
    prepared = _prepare(link, tc)
    if isinstance(prepared, str) or not link.approval:
        return tc, prepared
    answer = approve_delegation(link.path, tc, prepared[1].objective, prepared[1].background)
    if isinstance(answer, str):
        return tc, answer
    return answer, prepared if answer is tc else _prepare(link, answer)


def _sync_background(link: ChildLink, tc: ToolCall) -> str:
    """Why a background call of a sync run is refused (its invalid arguments first)."""
    refused = _prepare(link, tc)
    return refused if isinstance(refused, str) else _NEEDS_ASYNC


def delegate(link: ChildLink, tc: ToolCall, prepared: _Prepared,
             config: RunnableConfig) -> Step[dict[str, Any]]:
    """One admitted delegation: refused, started in the background, or run to its end.

    Returns:
        The update for this call: ``{"messages": [ToolMessage]}``.
    """
    scope = scope_of(config)
    emit = Emitter(scope, config)
    if isinstance(prepared, str):
        return _refuse(link, tc, emit, prepared)
    task, call = prepared
    if call.background:  # an async run's (a sync run refused it before)
        return (yield from _background(link, tc, task, call, scope, config, emit))
    ending = yield from run_child(link, tc, task, call, emit.home)
    update = _result(link, tc, ending, call)
    if scope is not None and (spent := _ended(scope, call)):
        update["messages"][0].response_metadata[SPENT_METADATA] = spent
    return update


def _ended(scope: RunScope, call: CallInfo) -> dict[str, float] | None:
    """Drop an ended delegation's attempt scopes (nobody looks them up any more).

    Returns:
        What its attempts spent (``SPENT_FIELDS``), or None: nothing counted (no budget).
    """
    spent: dict[str, float] = dict.fromkeys(SPENT_FIELDS, 0)
    for attempt in range(1, call.attempt + 1):
        if (child := scope.children.pop((call.serial, attempt), None)) is not None:
            for key in SPENT_FIELDS:
                spent[key] += child.spent[key]
    return spent if any(spent.values()) else None


def _result(link: ChildLink, tc: ToolCall, ending: Ending,
            call: CallInfo | None = None) -> dict[str, Any]:
    """The parent's update: one ToolMessage (with ``attempts``/``errors`` under a retry)."""
    extra = ({"attempts": call.attempt, "errors": list(call.errors)}
             if call is not None and call.retried else {})
    msg = tool_result(ending.status, link.agent.name, tool_call_id=tc["id"] or "",
                      tool_name=tc["name"], result=ending.result, error=ending.error, **extra)
    return {"messages": [msg]}


def _refuse(link: ChildLink, tc: ToolCall, emit: Emitter, error: str) -> dict[str, Any]:
    """Answer a call without running a child: a typed ``failed`` result with ``error``.

    Like every refused delegation it gets a ``subagent_start`` / refused ``subagent_end``
    pair at the child's path (built only here, off the path of calls that run).
    """
    if emit.scope is not None:
        emit.refusals([Refusal.of(link.path, tc["id"] or "", tc["args"], Status.FAILED, error)])
    return _result(link, tc, Ending(Status.FAILED, None, error))


# -- background calls (async runs only) ------------------------------------------------------


def _background(link: ChildLink, tc: ToolCall, task: dict[str, Any], call: CallInfo,
                scope: RunScope | None, config: RunnableConfig,
                emit: Emitter) -> Step[dict[str, Any]]:
    """Start a background call: a job of the parent run's table, or a detached job.

    Returns:
        ``running`` with the job's id at once, or the refusal (no background table, an
        invalid delivery target, the dispatcher's rejection).
    """
    table = scope.background if scope is not None else None
    if table is None:
        return _refuse(link, tc, emit, _NEEDS_ASYNC)
    conf = config.get("configurable", {})
    target = run_delivery(conf, table.config.deliver)
    if isinstance(target, str):
        return _refuse(link, tc, emit, target)
    if target is not None:
        origin = {"thread_id": conf.get("thread_id"), "tool_call_id": tc["id"],
                  "run_id": conf.get("run_id") or table.owner, "path": list(link.path)}
        return (yield from _detach(link, tc, call, table.config, target, origin, emit))
    job = spawn_background(link, table, tc, task, call, config)
    msg = tool_result(Status.RUNNING, link.agent.name, tool_call_id=tc["id"] or "",
                      tool_name=tc["name"], id=job.id)
    if job.thread_id is None:
        return {"messages": [msg]}
    return {"messages": [msg], BACKGROUND_KEY: {job.id: job.record()}}


def spawn_background(link: ChildLink, table: BackgroundTable, tc: ToolCall,
                     task: dict[str, Any], call: CallInfo, config: RunnableConfig,
                     job_id: str | None = None) -> BackgroundJob:
    """Start one background child as a job of ``table`` (a new one, or a re-attached one).

    On a thread of a checkpointer the child runs on its own checkpoint thread
    (:func:`own_thread`), so a new process can resume it; else as a subgraph of the node
    that started it.

    Args:
        link: the child.
        table: the parent run's background table.
        tc: the parent's tool call.
        task: the child's input (``{"messages": [task message]}``).
        call: the delegation's record.
        config: the config of the node that started it (or of the run that re-attaches it).
        job_id: a re-attached child's id (None: a new one).

    Returns:
        The job, running (or queued for a ``max_concurrent`` slot).
    """
    return table.spawn(link.agent.name, tc["id"] or "", lambda: adrive(
        run_child(link, tc, task, call, lambda: _homed(table, config), job_id is not None)),
        link=call, thread_id=own_thread(link, call, config), job_id=job_id)


def _homed(table: BackgroundTable[RunScope],
           config: RunnableConfig) -> tuple[Emitter, RunnableConfig]:
    """The emitter and config of a background child's parent side, looked up now.

    The run owning the table (``table.home``): the resumed one once it adopted the table.
    """
    home = table.home
    assert home is not None  # a scope's table has its home from the start
    config = home.rebase(config)
    return Emitter(home, config), config


def _detach(link: ChildLink, tc: ToolCall, call: CallInfo, bg: BackgroundConfig,
            target: Delivery, origin: dict[str, Any], emit: Emitter) -> Step[dict[str, Any]]:
    """Hand a background child to the durable dispatcher: it outlives this run.

    ``origin`` (the asking run's thread, run, tool call and the child's path) is delivered
    with the result, so a handler can route it back to that conversation.
    """
    dispatcher = bg.dispatcher
    if dispatcher is None:
        return _refuse(link, tc, emit, f"a delivery target ('{DELIVERY_KEY}') needs the "
                       "agent's BackgroundConfig(dispatcher=...)")
    try:
        job_id = yield AsyncOnly(lambda: dispatcher.submit(
            link.agent.name, call.objective, deliver=target, origin=origin), _NEEDS_ASYNC)
    except Exception as exc:  # an unregistered agent or a closed store: a clear result
        return _refuse(link, tc, emit, f"{type(exc).__name__}: {exc}")
    emit.child_start(link.path, tc, call.objective, True)
    msg = tool_result(Status.RUNNING, link.agent.name, tool_call_id=tc["id"] or "",
                      tool_name=tc["name"], id=job_id, detached=True)
    return {"messages": [msg]}
