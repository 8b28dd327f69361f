"""``as_tool``: a team as a LangChain tool, for other frameworks' agents.

``create_react_agent`` / ``create_agent``, deepagents, or a plain ``ToolNode`` call it like any
tool; it runs the compiled team once per call, with the caller's config and callbacks (run
tree, tracing), and answers with the typed result JSON a parent agent of this package reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from subagents.graphs.compile import compile_agent
from subagents.nodes.pipeline import make_pipeline_node
from subagents.results import DelegationResult, json_text
from subagents.spec import Agent

__all__ = ["TaskArguments", "as_tool"]


class TaskArguments(BaseModel):
    """The arguments of a team tool (``as_tool``)."""

    objective: str = Field(description="The complete, self-contained task for the team.")
    context: str = Field(default="", description="Optional background the team needs.")


def _agent_of(graph: Any) -> Agent | None:
    """The root ``Agent`` of a graph made by ``compile_agent`` (None for other runnables)."""
    for _ in range(8):
        plan = getattr(graph, "subagents_plan", None)
        if plan is not None:
            agent: Agent = plan.agent
            return agent
        if not isinstance(graph, RunnableBinding):
            return None
        graph = graph.bound
    return None


def as_tool(team: Agent | Runnable[Any, Any], *, name: str | None = None,
            description: str | None = None,
            model: BaseChatModel | str | None = None) -> BaseTool:
    """Make a team (its root agent) a LangChain tool: ``name(objective, context="")``.

    Args:
        team: an ``Agent`` (compiled here, ``model`` for agents that name none) or a graph
            made by ``compile_agent``.
        name: the tool's name (default: the root agent's name).
        description: what the calling model reads (default: the agent's description).
        model: model for an ``Agent`` whose agents name none (see ``compile_agent``).

    Returns:
        A sync and async ``StructuredTool``. Each call runs the team once on the task and
        returns the JSON of a ``DelegationResult`` (``{"status", "agent", "result",
        "error"}``); a team that fails or raises answers ``failed`` instead of raising;
        interrupts and cancellation pass through. The caller's config (callbacks, tags,
        metadata, a parent checkpointer) reaches the team's run.

    Raises:
        TypeError: ``team`` is neither an ``Agent`` nor a graph from ``compile_agent``.
        SpecError: as ``compile_agent``.
    """
    graph: Runnable[Any, Any]
    if isinstance(team, Agent):
        agent, graph = team, compile_agent(team, model=model)
    else:
        found = _agent_of(team)
        if found is None:
            msg = f"as_tool takes an Agent or a graph from compile_agent, got {type(team)!r}"
            raise TypeError(msg)
        agent, graph = found, team

    def task(state: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"objective": state["objective"], "context": state.get("context", "")}

    node = make_pipeline_node(agent.model_copy(update={"input_schema": None}), graph,
                              input=task, output_key="output", result_key="result")

    def answer(update: Mapping[str, Any]) -> str:
        result: DelegationResult = update["result"]
        return json_text(result.model_dump(mode="json"))

    def run(objective: str, context: str = "", config: RunnableConfig | None = None) -> str:
        return answer(node.invoke({"objective": objective, "context": context}, config))

    async def arun(objective: str, context: str = "",
                   config: RunnableConfig | None = None) -> str:
        return answer(await node.ainvoke({"objective": objective, "context": context}, config))

    return StructuredTool.from_function(
        func=run, coroutine=arun, name=name or agent.name,
        description=description or agent.description or f"Delegate a task to {agent.name}.",
        args_schema=TaskArguments)
