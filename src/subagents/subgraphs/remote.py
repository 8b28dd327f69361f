"""Remote sub-agents: a child that is a graph deployed on a LangGraph server.

A remote sub-agent is declared like any other (name, description, optional input/output
schema, ``persistent``) plus a :class:`RemoteSpec` (server URL and graph or assistant id). Its
"compiled graph" is a :class:`RemoteChild`: a ``Runnable`` the parent's delegation node invokes
exactly like a local child, with ``{"messages": [task]}``, and that returns the remote run's
final state with real message objects, so the parent reads it with ``child_outcome`` and gets
the same ``DelegationResult`` (status, result, error), events and cancellation as locally.

Runs go through LangGraph's ``RemoteGraph``. Facts its source (``langgraph/pregel/remote.py``)
imposes, and what this module does about them:

- ``RemoteGraph`` sends only the config it is given (primitives only; checkpoint keys are
  dropped) and never the parent's implicit one, and it forwards chunks into the parent's
  stream only when that config carries the parent's stream. The child therefore always gets
  an explicit config of its own: one remote thread, no parent stream. The remote child gets
  a local run scope instead (:mod:`subagents.subgraphs._remote_events`): when the local run
  wants events, the remote run is streamed with ``custom`` and ``subgraphs=True`` and its
  events are re-emitted under the child's local path; its final ``usage`` becomes the
  child's usage subtree.
- Without a ``thread_id`` it makes a stateless run, whose thread the server deletes: nothing
  to resume or inspect. Every delegation runs on a thread of its own whose id is derived
  from the parent's thread, the agent's name and the tool call id (:func:`remote_thread_id`),
  so a parent resumed after a crash finds the remote run again: a finished run is read back,
  a running one joined, a cut-short one resumed; a finished delegation never runs twice. A
  persistent remote sub-agent uses one remote thread per parent thread (history continues).
- A cancelled parent closes the HTTP stream; runs are started with ``on_disconnect="cancel"``
  and, in addition, every active run of the delegation's thread is cancelled explicitly.
- Interrupts raised by the remote graph become an ``interrupt()`` of the delegation node:
  they reach the root like a local child's, and ``Command(resume=...)`` is sent on to the
  remote run.
- Failures (server down, unknown graph, an error in the remote run, a run that stopped
  unfinished) raise :class:`RemoteAgentError` with a clear text, which the delegation node
  turns into a ``failed`` result.

The run is written once, as a sans-IO step (:meth:`RemoteChild._step`, see
:mod:`subagents.runtime.steps`); the requests of :mod:`subagents.subgraphs._remote_io` do its
I/O with the SDK's sync client (``invoke``) or its async one (``ainvoke``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.pregel.remote import RemoteException, RemoteGraph
from langgraph.types import Command, StateSnapshot, interrupt
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import APIStatusError

from subagents.checkpoints.threads import persistent_thread_id, task_message_id
from subagents.errors import SpecError, SubagentsError
from subagents.nodes import mark_stop
from subagents.results import Status
from subagents.runtime.call import CALL_KEY, CallInfo
from subagents.runtime.scope import RunScope, closing
from subagents.runtime.steps import Step, adrive, drive
from subagents.spec import Agent, RemoteSpec
from subagents.subgraphs._remote_events import (
    Relay,
    RemoteOverBudget,
    attach_usage,
    open_relay,
)
from subagents.subgraphs._remote_io import (
    CancelActive,
    JoinActive,
    LockThread,
    Probe,
    ReadState,
    RunOnce,
    plan,
)

__all__ = ["RemoteAgentError", "RemoteChild", "RemoteSpec", "remote_child",
           "remote_thread_id"]

_NAMESPACE = uuid.UUID("5d9e0c53-7a43-4f7e-9a57-2f1f3c0b6a11")


class RemoteAgentError(SubagentsError):
    """A remote sub-agent could not run or finish (the delegation's result is ``failed``)."""


def remote_thread_id(agent: str, parent_thread_id: str | None, tool_call_id: str, *,
                     persistent: bool = False) -> str:
    """The remote thread (a UUID) of one delegation to remote sub-agent ``agent``.

    Non-persistent: one thread per (parent thread, agent, tool call). Persistent: one thread
    per (parent thread, agent), the remote twin of ``checkpoints.threads.persistent_thread_id``.
    Without a parent thread (a parent run without checkpointer) every call gets a new random
    thread: nothing could be resumed, and tool call ids are not unique across runs.

    Raises:
        RemoteAgentError: a persistent agent without a parent thread.
    """
    if parent_thread_id is None:  # nothing to resume: never reuse a thread (ids may repeat)
        if persistent:
            msg = f"persistent remote sub-agent '{agent}' needs a parent thread"
            raise RemoteAgentError(msg)
        return str(uuid.uuid4())
    key = persistent_thread_id(str(parent_thread_id), agent)
    if not persistent:
        key = f"{key}#{tool_call_id}"
    return str(uuid.uuid5(_NAMESPACE, key))


def remote_child(agent: Agent, spec: RemoteSpec | None = None) -> RemoteChild:
    """The child graph (a ``RemoteChild``) of a remote agent, for its ``ChildLink``.

    Raises:
        SpecError: the agent has no ``remote`` and no ``spec`` is given.
    """
    spec = spec if spec is not None else agent.remote
    if spec is None:
        msg = f"agent {agent.name!r}: field 'remote': not a remote sub-agent"
        raise SpecError(msg)
    return RemoteChild(agent, RemoteSpec.model_validate(spec))


class RemoteChild(Runnable[dict[str, Any], dict[str, Any]]):
    """A remote graph seen as a child graph (input ``{"messages": [task]}``, final state out).

    Args:
        agent: the child's spec (name, ``persistent``).
        spec: where it runs.
        graph: a ready ``RemoteGraph`` (tests); default: one built from ``spec``.
    """

    def __init__(self, agent: Agent, spec: RemoteSpec, graph: RemoteGraph | None = None) -> None:
        self.agent = agent
        self.spec = spec
        self.name = agent.name
        if graph is None:
            key: dict[str, Any] = {}
            if spec.api_key is not None:
                key["api_key"] = spec.api_key.get_secret_value()
            client = get_client(url=spec.url, headers=spec.headers, timeout=spec.timeout, **key)
            sync = get_sync_client(url=spec.url, headers=spec.headers, timeout=spec.timeout,
                                   **key)
            graph = RemoteGraph(spec.graph_id, client=client, sync_client=sync, name=agent.name)
        self.graph = graph
        self.ours: bool | None = None
        """Whether the remote graph is a subagents graph (None: not asked yet or unknown)."""

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> dict[str, Any]:
        """Run (or resume, or read back) the delegation on its remote thread.

        Returns:
            The call's own final state (``messages`` as message objects, the remote
            ``usage`` when the graph writes one).

        Raises:
            RemoteAgentError: the server is unreachable or refused the run, the remote run
                failed or stopped unfinished.
            GraphInterrupt: the remote run waits on interrupts (they reach the root).
        """
        return drive(self._step(input, config))

    async def ainvoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        """:meth:`invoke` on the SDK's async client."""
        return await adrive(self._step(input, config))

    # -- the step: one delegation, written once ----------------------------------------

    def _step(self, task: dict[str, Any], config: RunnableConfig | None,
              ) -> Step[dict[str, Any]]:
        thread_id, tool_call_id, _ = self._call(config)
        scope, relay = open_relay(self.agent.name, config)
        lock = yield LockThread(thread_id)
        try:
            with closing(scope):
                try:
                    relay = yield from self._streamed(relay)
                    done = yield from self._run(task, thread_id, tool_call_id, relay)
                except (asyncio.CancelledError, KeyboardInterrupt):
                    yield CancelActive(self.graph, thread_id, self.spec.cancel_timeout)
                    raise
                except RemoteOverBudget as exc:
                    yield CancelActive(self.graph, thread_id, self.spec.cancel_timeout)
                    return self._over_budget(scope, str(exc))
                except (RemoteException, httpx.HTTPError) as exc:
                    raise self._error(exc) from exc
                return attach_usage(scope, done, relay)
        finally:
            lock.release()

    def _streamed(self, relay: Relay | None) -> Step[Relay | None]:
        """The relay for this graph: a foreign graph's (its ``updates``) when it is one."""
        if relay is not None and self.ours is None:
            self.ours = yield Probe(self.graph)  # asked once per remote agent
        return relay.foreign() if relay is not None and self.ours is False else relay

    def _run(self, task: dict[str, Any], thread_id: str, tool_call_id: str,
             relay: Relay | None) -> Step[dict[str, Any]]:
        cfg = self._config(thread_id)
        read = ReadState(self.graph, cfg)
        snap = yield read
        action, done = plan(snap, tool_call_id)
        if action in ("resume", "interrupted"):
            yield JoinActive(self.graph, thread_id)  # a run the crashed parent left running
            snap = yield read
            action, done = plan(snap, tool_call_id)
        inputs: Any = self._input(task, tool_call_id) if action == "run" else None
        while done is None:
            if action == "interrupted":
                assert snap is not None
                inputs = Command(resume=interrupt(self._interrupt_payload(thread_id, snap)))
            yield RunOnce(self.graph, inputs, cfg, self._run_kwargs(tool_call_id), relay)
            snap = yield read
            action, done = plan(snap, tool_call_id)
            if action == "resume":
                assert snap is not None
                raise self._unfinished(snap)
            if action == "run":
                msg = f"remote sub-agent '{self.name}': the task never reached thread {thread_id}"
                raise RemoteAgentError(msg)
        return done

    # -- config, input, errors -----------------------------------------------------------

    def _call(self, config: RunnableConfig | None) -> tuple[str, str, CallInfo | None]:
        """(remote thread id, tool call id, the delegation's CallInfo) from the config."""
        # the parent's configurable (thread_id) reaches a Runnable only through the context
        # variable; langchain's ensure_config would let the explicit configurable replace it
        parent_config = var_child_runnable_config.get() or {}
        conf = {**parent_config.get("configurable", {}), **(config or {}).get("configurable", {})}
        call = conf.get(CALL_KEY)
        call = call if isinstance(call, CallInfo) else None
        tool_call_id = (call.tool_call_id if call else "") or f"call_{uuid.uuid4().hex}"
        parent = conf.get("thread_id")
        if self.agent.persistent and parent is None:
            msg = (f"persistent remote sub-agent '{self.name}' needs a thread: run the parent "
                   "with configurable.thread_id")
            raise RemoteAgentError(msg)
        thread = remote_thread_id(self.agent.name, None if parent is None else str(parent),
                                  tool_call_id, persistent=self.agent.persistent)
        return thread, tool_call_id, call

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {**(self.spec.configurable or {}), "thread_id": thread_id}}

    def _run_kwargs(self, tool_call_id: str) -> dict[str, Any]:
        meta = {"subagents_agent": self.name, "subagents_tool_call_id": tool_call_id}
        return {"on_disconnect": "cancel", "metadata": meta}

    @staticmethod
    def _input(task: dict[str, Any], tool_call_id: str) -> dict[str, Any]:
        message = task["messages"][0]
        return {"messages": [{"type": "human", "content": message.content,
                              "id": task_message_id(tool_call_id)}]}

    def _error(self, exc: BaseException) -> RemoteAgentError:
        where = f"remote sub-agent '{self.name}' (graph '{self.spec.graph_id}' at {self.spec.url})"
        if isinstance(exc, RemoteException):
            data = exc.args[0] if exc.args else exc
            if isinstance(data, dict):
                data = ": ".join(str(data[k]) for k in ("error", "message") if data.get(k))
            return RemoteAgentError(f"{where}: the remote run failed: {data}")
        if isinstance(exc, APIStatusError):
            return RemoteAgentError(f"{where}: the server refused the run "
                                    f"(HTTP {exc.status_code}): {exc}")
        if isinstance(exc, httpx.TransportError):
            return RemoteAgentError(f"{where}: the server is unreachable: "
                                    f"{type(exc).__name__}: {exc}")
        return RemoteAgentError(f"{where}: {type(exc).__name__}: {exc}")

    def _unfinished(self, snap: StateSnapshot) -> RemoteAgentError:
        return RemoteAgentError(
            f"remote sub-agent '{self.name}': the remote run on thread "
            f"{snap.config['configurable']['thread_id']} stopped before finishing "
            f"(next: {', '.join(snap.next)}); was it cancelled on the server?")

    def _over_budget(self, scope: RunScope | None, reason: str) -> dict[str, Any]:
        """The state of a delegation the local budget stopped (it ends ``over_budget``)."""
        if scope is not None:
            scope.finish(Status.OVER_BUDGET)
        messages: list[AnyMessage] = [AIMessage(content=f"Stopped: {reason}",
                                                name=self.agent.name)]
        mark_stop(messages, "over_budget", reason)
        return {"messages": messages}

    def _interrupt_payload(self, thread_id: str, snap: StateSnapshot) -> dict[str, Any]:
        return {"remote_agent": self.name, "thread_id": thread_id,
                "interrupts": [i.value for i in snap.interrupts]}
