"""``delegate_node(agent, ...)``: compile a sub-agent and make it a node of your StateGraph."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from subagents.graphs.compile import compile_agent
from subagents.nodes.pipeline import TaskInput, make_pipeline_node
from subagents.runtime.upstream import RunnableCallable
from subagents.spec import Agent

__all__ = ["delegate_node"]


def delegate_node(agent: Agent, *, input: TaskInput, output_key: str,
                  result_key: str | None = None,
                  model: BaseChatModel | str | None = None) -> RunnableCallable:
    """A node that runs ``agent`` as a fixed pipeline step of a user's ``StateGraph``.

    Example:
        >>> builder.add_node("extract", delegate_node(extractor, input="document",
        ...                  output_key="facts"))

    The agent's ``retry`` policy and ``timeout`` apply to each run of the step as to any
    delegation (``subagents.nodes.retry``); the node never raises for a failing child.

    Args:
        agent: the sub-agent (compiled here with ``compile_agent``; it inherits the
            pipeline's checkpointer, like any subgraph).
        input: a state key holding the task, or ``fn(state) -> str | dict`` (see
            ``subagents.nodes.pipeline.TaskInput``).
        output_key: state key for the result (the ``output_schema`` instance or the text).
        result_key: optional state key for the whole ``DelegationResult``.
        model: model for the sub-agent when it names none (see ``compile_agent``).

    Raises:
        SpecError: as ``compile_agent``.
    """
    graph: Any = compile_agent(agent, model=model, checkpointer=None if not agent.persistent
                               else True)
    return make_pipeline_node(agent, graph, input=input, output_key=output_key,
                              result_key=result_key)
