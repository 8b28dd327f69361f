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
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from langchain_core.messages import convert_to_messages
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.pregel.remote import RemoteException, RemoteGraph
from langgraph.types import Command, StateSnapshot, interrupt
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import APIStatusError, NotFoundError

from subagents.errors import SpecError, SubagentsError
from subagents.runtime.scope import closing
from subagents.spec import RemoteSpec
from subagents.subgraphs._remote_events import Relay, attach_usage, open_relay

__all__ = ["RemoteAgentError", "RemoteChild", "RemoteSpec", "remote_child",
           "remote_thread_id"]

_NAMESPACE = uuid.UUID("5d9e0c53-7a43-4f7e-9a57-2f1f3c0b6a11")
_ACTIVE = ("pending", "running")
_tlocks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_alocks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = (
    weakref.WeakValueDictionary())
_guard = threading.Lock()


class RemoteAgentError(SubagentsError):
    """A remote sub-agent could not run or finish (the delegation's result is ``failed``)."""


def remote_thread_id(agent: str, parent_thread_id: str | None, tool_call_id: str, *,
                     persistent: bool = False) -> str:
    """The remote thread (a UUID) of one delegation to remote sub-agent ``agent``.

    Non-persistent: one thread per (parent thread, agent, tool call). Persistent: one thread
    per (parent thread, agent), the remote twin of ``checkpoints.threads.persistent_thread_id``.
    Without a parent thread (a parent run without checkpointer) every call gets a new random
    thread: nothing could be resumed, and tool call ids are not unique across runs.
    """
    from subagents.checkpoints.threads import persistent_thread_id

    if parent_thread_id is None:  # nothing to resume: never reuse a thread (ids may repeat)
        if persistent:
            msg = f"persistent remote sub-agent '{agent}' needs a parent thread"
            raise RemoteAgentError(msg)
        return str(uuid.uuid4())
    key = persistent_thread_id(str(parent_thread_id), agent)
    if not persistent:
        key = f"{key}#{tool_call_id}"
    return str(uuid.uuid5(_NAMESPACE, key))


def remote_child(agent: Any, spec: RemoteSpec | None = None) -> RemoteChild:
    """The child graph (a ``RemoteChild``) of a remote agent, for its ``ChildLink``."""
    spec = spec if spec is not None else getattr(agent, "remote", None)
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

    def __init__(self, agent: Any, spec: RemoteSpec, graph: RemoteGraph | None = None) -> None:
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

    # -- config, input, output -------------------------------------------------------------

    def _call(self, config: RunnableConfig | None) -> tuple[str, str, Any]:
        """(remote thread id, tool call id, CallInfo or None) from the merged config."""
        from subagents.runtime.call import CALL_KEY

        # the parent's configurable (thread_id) reaches a Runnable only through the context
        # variable; langchain's ensure_config would let the explicit configurable replace it
        parent_config = var_child_runnable_config.get() or {}
        conf = {**parent_config.get("configurable", {}), **(config or {}).get("configurable", {})}
        call = conf.get(CALL_KEY)
        tool_call_id = getattr(call, "tool_call_id", "") or f"call_{uuid.uuid4().hex}"
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
        from subagents.checkpoints.threads import task_message_id

        message = task["messages"][0]
        return {"messages": [{"type": "human", "content": message.content,
                              "id": task_message_id(tool_call_id)}]}

    @staticmethod
    def _values(snap: StateSnapshot | None) -> dict[str, Any]:
        values = dict(snap.values) if snap is not None and isinstance(snap.values, dict) else {}
        values["messages"] = convert_to_messages(values.get("messages") or [])
        return values

    def _plan(self, snap: StateSnapshot | None, tool_call_id: str,
              ) -> tuple[str, dict[str, Any] | None]:
        """('run' | 'resume' | 'interrupted' | 'done', the call's own state when done)."""
        from subagents.nodes.persistent import _plan
        from subagents.runtime.call import CallInfo

        if snap is None:
            return "run", None
        call = CallInfo(tool_call_id=tool_call_id, objective="")
        action, done = _plan(self._values(snap), snap.next, call)
        if action == "resume" and snap.interrupts:
            return "interrupted", None
        return action, done

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

    def _interrupt_payload(self, thread_id: str, snap: StateSnapshot) -> dict[str, Any]:
        return {"remote_agent": self.name, "thread_id": thread_id,
                "interrupts": [i.value for i in snap.interrupts]}

    # -- async -----------------------------------------------------------------------------

    async def _astate(self, thread_id: str) -> StateSnapshot | None:
        try:
            return await self.graph.aget_state(self._config(thread_id))
        except NotFoundError:
            return None

    async def _ajoin_active(self, thread_id: str) -> None:
        client = self.graph._validate_client()
        for run in await client.runs.list(thread_id, limit=20):
            if run["status"] in _ACTIVE:
                await client.runs.join(thread_id, run["run_id"])

    async def _acancel_active(self, thread_id: str) -> None:
        client = self.graph._validate_client()
        for run in await client.runs.list(thread_id, limit=20):
            if run["status"] in _ACTIVE:
                await client.runs.cancel(thread_id, run["run_id"], action="interrupt")

    async def ainvoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        """Run (or resume, or read back) the delegation on its remote thread."""
        thread_id, tool_call_id, _ = self._call(config)
        key = (id(asyncio.get_running_loop()), thread_id)
        with _guard:
            lock = _alocks.get(key) or _alocks.setdefault(key, asyncio.Lock())
        scope, relay = open_relay(self.agent.name, config)
        async with lock:
            with closing(scope):
                try:
                    return attach_usage(scope, await self._arun(input, thread_id,
                                                                tool_call_id, relay))
                except asyncio.CancelledError:
                    await self._acancel_quietly(thread_id)
                    raise
                except (RemoteException, httpx.HTTPError) as exc:
                    raise self._error(exc) from exc

    async def _acancel_quietly(self, thread_id: str) -> None:
        cancel = asyncio.ensure_future(self._acancel_active(thread_id))
        try:
            await asyncio.wait_for(asyncio.shield(cancel), self.spec.cancel_timeout)
        except (Exception, asyncio.CancelledError):  # best effort: disconnect cancels too
            cancel.cancel()

    async def _arun_once(self, inputs: Any, cfg: RunnableConfig, run_kwargs: dict[str, Any],
                         relay: Relay | None) -> None:
        if relay is None:  # nobody listens: no custom stream
            await self.graph.ainvoke(inputs, cfg, **run_kwargs)
            return
        async for part in self.graph.astream(inputs, cfg, stream_mode="custom",
                                             subgraphs=True, **run_kwargs):
            relay.part(part)

    async def _arun(self, task: dict[str, Any], thread_id: str, tool_call_id: str,
                    relay: Relay | None = None) -> dict[str, Any]:
        cfg, run_kwargs = self._config(thread_id), self._run_kwargs(tool_call_id)
        snap = await self._astate(thread_id)
        action, done = self._plan(snap, tool_call_id)
        if action in ("resume", "interrupted"):
            await self._ajoin_active(thread_id)  # a run the crashed parent left running
            snap = await self._astate(thread_id)
            action, done = self._plan(snap, tool_call_id)
        inputs: Any = {"run": self._input(task, tool_call_id), "resume": None}.get(action)
        while done is None:
            if action == "interrupted":
                assert snap is not None
                inputs = Command(resume=interrupt(self._interrupt_payload(thread_id, snap)))
            await self._arun_once(inputs, cfg, run_kwargs, relay)
            snap = await self._astate(thread_id)
            action, done = self._plan(snap, tool_call_id)
            if action == "resume":
                assert snap is not None
                raise self._unfinished(snap)
            if action == "run":
                msg = f"remote sub-agent '{self.name}': the task never reached thread {thread_id}"
                raise RemoteAgentError(msg)
        return done

    # -- sync ------------------------------------------------------------------------------

    def _state(self, thread_id: str) -> StateSnapshot | None:
        try:
            return self.graph.get_state(self._config(thread_id))
        except NotFoundError:
            return None

    def _runs(self, thread_id: str) -> Iterator[str]:
        client = self.graph._validate_sync_client()
        for run in client.runs.list(thread_id, limit=20):
            if run["status"] in _ACTIVE:
                yield run["run_id"]

    @contextmanager
    def _cancel_on_interrupt(self, thread_id: str) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            client = self.graph._validate_sync_client()
            try:
                for run_id in self._runs(thread_id):
                    client.runs.cancel(thread_id, run_id, action="interrupt")
            except Exception:  # best effort: the disconnect cancels the run too
                pass
            raise

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> dict[str, Any]:
        """Sync twin of :meth:`ainvoke`."""
        thread_id, tool_call_id, _ = self._call(config)
        with _guard:
            lock = _tlocks.get(thread_id) or _tlocks.setdefault(thread_id, threading.Lock())
        scope, relay = open_relay(self.agent.name, config)
        with lock, self._cancel_on_interrupt(thread_id), closing(scope):
            try:
                return attach_usage(scope, self._run(input, thread_id, tool_call_id, relay))
            except (RemoteException, httpx.HTTPError) as exc:
                raise self._error(exc) from exc

    def _run_once(self, inputs: Any, cfg: RunnableConfig, run_kwargs: dict[str, Any],
                  relay: Relay | None) -> None:
        if relay is None:  # nobody listens: no custom stream
            self.graph.invoke(inputs, cfg, **run_kwargs)
            return
        for part in self.graph.stream(inputs, cfg, stream_mode="custom", subgraphs=True,
                                      **run_kwargs):
            relay.part(part)

    def _run(self, task: dict[str, Any], thread_id: str, tool_call_id: str,
             relay: Relay | None = None) -> dict[str, Any]:
        cfg, run_kwargs = self._config(thread_id), self._run_kwargs(tool_call_id)
        snap = self._state(thread_id)
        action, done = self._plan(snap, tool_call_id)
        if action in ("resume", "interrupted"):
            client = self.graph._validate_sync_client()
            for run_id in self._runs(thread_id):
                client.runs.join(thread_id, run_id)
            snap = self._state(thread_id)
            action, done = self._plan(snap, tool_call_id)
        inputs: Any = {"run": self._input(task, tool_call_id), "resume": None}.get(action)
        while done is None:
            if action == "interrupted":
                assert snap is not None
                inputs = Command(resume=interrupt(self._interrupt_payload(thread_id, snap)))
            self._run_once(inputs, cfg, run_kwargs, relay)
            snap = self._state(thread_id)
            action, done = self._plan(snap, tool_call_id)
            if action == "resume":
                assert snap is not None
                raise self._unfinished(snap)
            if action == "run":
                msg = f"remote sub-agent '{self.name}': the task never reached thread {thread_id}"
                raise RemoteAgentError(msg)
        return done
