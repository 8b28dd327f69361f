"""``AgentGraph``: a ``CompiledStateGraph`` that opens a run scope around each invocation.

It is LangGraph's compiled graph in every respect (``invoke``, ``astream``, ``get_state``,
checkpointers, the server) and adds one thing: every ``stream``/``astream`` (and so every
``invoke``/``ainvoke``) opens a :class:`~subagents.scope.RunScope` for the agent, passed to
its nodes through the config, and closes it when the run ends, is closed or is cancelled:
background children are then auto-cancelled and the usage tree records how it ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.graph.state import CompiledStateGraph

from subagents.nodes.plan import AgentPlan
from subagents.scope import CALL_KEY, SCOPE_KEY, CallInfo, RunScope

__all__ = ["AgentGraph"]


class AgentGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """The compiled graph of one agent (see module docstring).

    Attributes:
        subagents_plan: the agent's compile-time plan (spec, ancestry path, children).
    """

    def __init__(self, *, subagents_plan: AgentPlan | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subagents_plan = subagents_plan

    def _open(self, config: RunnableConfig | None) -> tuple[RunScope | None, RunnableConfig | None]:
        plan = self.subagents_plan
        if plan is None:
            return None, config
        passed = (config or {}).get("configurable", {})
        ambient = (var_child_runnable_config.get() or {}).get("configurable", {})
        parent = passed.get(SCOPE_KEY) or ambient.get(SCOPE_KEY)
        parent = parent if isinstance(parent, RunScope) else None
        call = passed.get(CALL_KEY) if parent is not None else None
        scope = RunScope(agent=plan.agent.name, path=plan.path, parent=parent,
                         call=call if isinstance(call, CallInfo) else None,
                         budget=plan.agent.budget, background=plan.background,
                         listener=plan.agent.on_subagent_event)
        own: RunnableConfig = {**(config or {})}
        own["configurable"] = {**passed, SCOPE_KEY: scope}
        own["configurable"].pop(CALL_KEY, None)  # the call is this scope's, not its children's
        return scope, own

    async def astream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """LangGraph's ``astream`` inside this agent's run scope."""
        scope, config = self._open(config)
        error: BaseException | None = None
        try:
            async for chunk in super().astream(input, config, **kwargs):
                yield chunk
        except BaseException as exc:
            error = exc
            raise
        finally:
            if scope is not None:
                await scope.aclose(error)

    def stream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """LangGraph's ``stream`` inside this agent's run scope."""
        scope, config = self._open(config)
        error: BaseException | None = None
        try:
            yield from super().stream(input, config, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if scope is not None:
                scope.close(error)
