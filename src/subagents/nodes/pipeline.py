"""``delegate_node``: a deterministic delegation at a fixed step of a user's own StateGraph.

Where implicit delegation lets a model decide (the ``task`` tool), an explicit Delegate node
runs a sub-agent at a fixed pipeline step (Project88's Delegate node, Helix's pipeline
pattern): it builds the task from state, runs the already compiled sub-agent, and binds its
(schema-validated) output into state. It works after a conditional edge, inside a loop and in
parallel branches, like any node. The agent's ``retry`` and ``timeout`` apply to the step
(``nodes.retry.attempts`` and ``RunChild``, as for the ``task`` tool), without
``subagent_retry`` events: a pipeline step has no parent agent's event stream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel

from subagents.nodes._attempt_log import AttemptLog
from subagents.nodes.ending import read_ending
from subagents.nodes.persistent import persistent_run
from subagents.nodes.plan import ChildLink
from subagents.nodes.retry import Attempt, RunChild, attempts, crashed, timed_out
from subagents.nodes.schemas import task_message
from subagents.results import DelegationResult, Ending, Status
from subagents.runtime.call import CALL_KEY, CallInfo
from subagents.runtime.steps import Invoke, Step, adrive, drive
from subagents.runtime.upstream import RunnableCallable
from subagents.spec import Agent

__all__ = ["TaskInput", "make_pipeline_node"]

TaskInput = str | Callable[[Mapping[str, Any]], str | Mapping[str, Any]]
"""A state key holding the task, or ``fn(state)`` returning the objective text or the
arguments (``{"objective": ..., "context": ...}`` or the agent's ``input_schema`` fields)."""


def _arguments(source: TaskInput, state: Mapping[str, Any]) -> Mapping[str, Any]:
    value = state.get(source) if isinstance(source, str) else source(state)
    if isinstance(value, Mapping):
        return value
    if isinstance(value, BaseModel):
        return {"objective": json.dumps(value.model_dump(mode="json"))}
    return {"objective": "" if value is None else str(value)}


def make_pipeline_node(agent: Agent, graph: Runnable[Any, Any], *, input: TaskInput,
                       output_key: str, result_key: str | None = None) -> RunnableCallable:
    """Build a node that delegates one task to ``graph`` (the compiled ``agent``).

    Args:
        agent: the sub-agent's spec (its ``output_schema``/``input_schema`` apply).
        graph: ``compile_agent(agent)`` (or any graph with its input/output shape).
        input: where the task comes from (see ``TaskInput``).
        output_key: the state key that receives the result: the validated ``output_schema``
            instance, or the final text; ``None`` when the child did not complete.
        result_key: optional state key that receives the whole ``DelegationResult``
            (status, result, error), so a conditional edge can route on failures.

    Returns:
        A sync+async node returning ``{output_key: ..., result_key: ...}``. It never raises
        for a failing child (its status says ``failed``); interrupts and cancellation pass.
    """
    stage = _Stage(ChildLink(agent=agent, node=agent.name, tool="task", graph=graph,
                             path=(agent.name,)), input, output_key, result_key)

    def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return drive(stage.step(state, config))

    async def arun(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return await adrive(stage.step(state, config))

    return RunnableCallable(run, arun, name=agent.name, trace=False)


@dataclass(frozen=True, slots=True)
class _Stage:
    """One pipeline step: where its task comes from and where its result goes."""

    link: ChildLink
    input: TaskInput
    output_key: str
    result_key: str | None

    def step(self, state: dict[str, Any], config: RunnableConfig) -> Step[dict[str, Any]]:
        """Build the task from ``state``, run the child, bind its result (a sans-IO step)."""
        agent, graph = self.link.agent, self.link.graph
        assert graph is not None
        message = task_message(agent, _arguments(self.input, state))
        if isinstance(message, str):
            return self.update(Ending(Status.FAILED, None, message))
        call = CallInfo(tool_call_id=_call_id(config),
                        objective=str(message.content), retried=agent.retry is not None)
        task = {"messages": [HumanMessage(content=message.content)]}
        log = AttemptLog.of(config) if agent.retry is not None else None
        ending = yield from attempts(agent.retry, call, lambda: self.attempt(task, call, config),
                                     lambda *_: None, log)
        return self.update(ending, call)

    def attempt(self, task: dict[str, Any], call: CallInfo,
                config: RunnableConfig) -> Step[Attempt]:
        """One run of the child within ``Agent.timeout`` (``nodes.retry.RunChild``)."""
        own = replace(call, stopped=False) if call.stopped else call
        timeout = self.link.agent.timeout
        try:
            out, late = yield RunChild(lambda: self.run(task, own, config), timeout, own)
        except BaseException as exc:  # a failing child becomes a failed result in state
            return crashed(exc)
        if late:
            assert timeout is not None
            return Attempt(timed_out(None, timeout))
        return Attempt(Ending(Status.FAILED, None, out) if isinstance(out, str)
                       else read_ending(self.link.agent, out))

    def run(self, task: dict[str, Any], call: CallInfo, config: RunnableConfig) -> Step[Any]:
        """The child's run: on its own thread when persistent, else as a subgraph."""
        graph = self.link.graph
        assert graph is not None
        if self.link.agent.persistent:
            return (yield from persistent_run(graph, self.link, task, call, config))
        return (yield Invoke(graph, task, {"configurable": {CALL_KEY: call}}))

    def update(self, ending: Ending, call: CallInfo | None = None) -> dict[str, Any]:
        """The node's update: the output (validated by the output schema) and the result."""
        agent = self.link.agent
        tried = {"attempts": call.attempt, "errors": list(call.errors)} if call else {}
        res = DelegationResult(status=ending.status, agent=agent.name, result=ending.result,
                               error=ending.error, **tried)
        value: Any = res.result if res.status.ok else None
        if agent.output_schema is not None and res.status is Status.COMPLETED:
            value = agent.output_schema.model_validate(res.result)
        update = {self.output_key: value}
        if self.result_key is not None:
            update[self.result_key] = res
        return update


def _call_id(config: RunnableConfig) -> str:
    """The step's call id: ``pipeline-<task id>`` of the node's LangGraph task.

    The task id is the same when the pipeline resumes the node, so a persistent step's
    task message is found again on its thread (and a paused one is resumed, not refused as
    another call's). A random id outside a graph task.
    """
    ns = str(config.get("configurable", {}).get("checkpoint_ns") or "")
    task = ns.rpartition("|")[2].partition(":")[2]
    return f"pipeline-{task or uuid.uuid4().hex[:12]}"
