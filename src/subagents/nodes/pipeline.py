"""``delegate_node``: a deterministic delegation at a fixed step of a user's own StateGraph.

Where implicit delegation lets a model decide (the ``task`` tool), an explicit Delegate node
runs a sub-agent at a fixed pipeline step (Project88's Delegate node, Helix's pipeline
pattern): it builds the task from state, runs the already compiled sub-agent, and binds its
(schema-validated) output into state. It works after a conditional edge, inside a loop and in
parallel branches, like any node.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel

from subagents.checkpoints.errors import is_storage_error
from subagents.nodes.child_call import child_outcome
from subagents.nodes.persistent import arun_persistent, run_persistent
from subagents.nodes.plan import ChildLink
from subagents.nodes.schemas import task_message
from subagents.results import DelegationResult, Status
from subagents.runtime.call import CALL_KEY, CallInfo
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
    link = ChildLink(agent=agent, node=agent.name, tool="task", graph=graph, path=(agent.name,))

    def prepare(state: Mapping[str, Any]) -> tuple[dict[str, Any], CallInfo] | DelegationResult:
        message = task_message(agent, _arguments(input, state))
        if isinstance(message, str):
            return DelegationResult(status=Status.FAILED, agent=agent.name, error=message)
        call = CallInfo(tool_call_id=f"pipeline-{uuid.uuid4().hex[:12]}",
                        objective=str(message.content))
        return {"messages": [HumanMessage(content=message.content)]}, call

    def finish(state: dict[str, Any] | str | DelegationResult) -> dict[str, Any]:
        if isinstance(state, DelegationResult):
            res = state
        elif isinstance(state, str):
            res = DelegationResult(status=Status.FAILED, agent=agent.name, error=state)
        else:
            status, result, error = child_outcome(link, state)
            res = DelegationResult(status=status, agent=agent.name, result=result, error=error)
        value: Any = res.result if res.status.ok else None
        if agent.output_schema is not None and res.status is Status.COMPLETED:
            value = agent.output_schema.model_validate(res.result)
        update = {output_key: value}
        if result_key is not None:
            update[result_key] = res
        return update

    def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        prepared = prepare(state)
        if isinstance(prepared, DelegationResult):
            return finish(prepared)
        task, call = prepared
        try:
            if agent.persistent:
                return finish(run_persistent(graph, link, task, call, config))
            return finish(graph.invoke(task, {"configurable": {CALL_KEY: call}}))
        except Exception as exc:  # a failing child becomes a failed result in state
            if is_storage_error(exc):
                raise
            return finish(f"{type(exc).__name__}: {exc}")

    async def arun(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        prepared = prepare(state)
        if isinstance(prepared, DelegationResult):
            return finish(prepared)
        task, call = prepared
        try:
            if agent.persistent:
                return finish(await arun_persistent(graph, link, task, call, config))
            return finish(await graph.ainvoke(task, {"configurable": {CALL_KEY: call}}))
        except Exception as exc:  # a failing child becomes a failed result in state
            if is_storage_error(exc):
                raise
            return finish(f"{type(exc).__name__}: {exc}")

    return RunnableCallable(run, arun, name=agent.name, trace=False)
