"""``AgentGraph``: a ``CompiledStateGraph`` that opens a run scope around each invocation.

It is LangGraph's compiled graph in every respect (``invoke``, ``astream``, ``get_state``,
checkpointers, the server) and adds one thing: every ``stream``/``astream`` (and so every
``invoke``/``ainvoke``) opens a :class:`~subagents.scope.RunScope` for the agent, passed to
its nodes through the config, and closes it when the run ends, is closed or is cancelled:
background children are then auto-cancelled and the usage tree records how it ended.

A run that ends PAUSED (a breakpoint, an ``interrupt()``) on a checkpointer thread keeps its
background children instead: their table is parked (:mod:`subagents.parking`) and the next
invocation of the same agent on the same thread in this process adopts it, and the
children then report to it (events, usage, budget: see ``RunScope.adopt``).

A root under a ``Budget`` that resumes its thread (input None or a ``Command``: after an
``interrupt()``, an approval pause or a crash) starts its budget from the spent counters its
model node wrote to the checkpoint (``budget_spent``), not from zero; so does each resumed
sub-agent, at its first model node (see ``RunScope.restore``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.errors import GraphInterrupt
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot

from subagents import parking
from subagents.nodes.plan import AgentPlan
from subagents.nodes.state import SPENT_KEY
from subagents.scope import CALL_KEY, SCOPE_KEY, CallInfo, RunScope, closing

__all__ = ["AgentGraph"]


class AgentGraph(CompiledStateGraph[Any, Any, Any, Any]):
    """The compiled graph of one agent (see module docstring).

    Attributes:
        subagents_plan: the agent's compile-time plan (spec, ancestry path, children).
    """

    def __init__(self, *, subagents_plan: AgentPlan | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subagents_plan = subagents_plan

    def _open(self, config: RunnableConfig | None, key: parking.ParkKey | None = None,
              ) -> tuple[RunScope | None, RunnableConfig | None]:
        """Open this invocation's scope; ``key`` adopts a paused run's parked table."""
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
                         listener=plan.agent.on_subagent_event,
                         table=parking.adopt(key) if plan.background else None)
        own: RunnableConfig = {**(config or {})}
        own["configurable"] = {**passed, SCOPE_KEY: scope}
        own["configurable"].pop(CALL_KEY, None)  # the call is this scope's, not its children's
        return scope, own

    def _resumes(self, scope: RunScope | None, input: Any) -> bool:
        """Whether this run is a root with a budget resuming its thread.

        Resuming: input None or a ``Command``; its spent counters are then read back from
        the checkpoint (one state read).
        """
        return (scope is not None and scope.budget is not None
                and len(scope.usage.path) == 1 and (input is None or isinstance(input, Command)))

    async def astream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """LangGraph's ``astream`` inside this agent's run scope."""
        plan = self.subagents_plan
        key = parking.park_key(config, plan.path) if plan and plan.background else None
        scope, config = self._open(config, key)
        if self._resumes(scope, input):
            _restore(scope, await _values(self.aget_state(config or {})))
        error: BaseException | None = None
        try:
            async for chunk in super().astream(input, config, **kwargs):
                yield chunk
        except BaseException as exc:
            error = exc
            raise
        finally:
            if scope is not None:
                paused = False
                try:
                    paused = key is not None and await self._ended_paused(
                        scope, config, error, nested=bool(key[1]))
                finally:
                    await scope.aclose(error, key if paused else None)

    async def _ended_paused(self, scope: RunScope, config: RunnableConfig | None,
                            error: BaseException | None, *, nested: bool) -> bool:
        """Whether a run with background children ended paused, so they are to be parked.

        A nested graph's (``nested``: a ``checkpoint_ns``) pause raises ``GraphInterrupt``;
        the root's is swallowed by LangGraph, so a root that returned is asked for its
        thread's state (one checkpointer read, only when it has background children):
        pending ``next`` nodes mean paused. A ``ParentCommand`` (also a ``GraphBubbleUp``) is
        no pause. Errors of the state read count as "not paused" (nothing to resume).
        """
        if scope.background is None or not scope.background.jobs:
            return False
        if isinstance(error, GraphInterrupt):
            return True
        if error is not None or nested:
            return False
        latest: RunnableConfig = {**(config or {})}
        latest["configurable"] = {k: v for k, v in latest.get("configurable", {}).items()
                                  if k != "checkpoint_id"}
        try:
            state = await self.aget_state(latest)
        except Exception:  # no checkpointer: nothing can resume, nothing to park
            return False
        return bool(state.next)

    def stream(  # same parameters as LangGraph's, passed through
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """LangGraph's ``stream`` inside this agent's run scope."""
        scope, config = self._open(config)
        if self._resumes(scope, input):
            try:
                values = self.get_state(config or {}).values
            except Exception:  # no checkpointer: nothing to resume from
                values = {}
            _restore(scope, values)
        with closing(scope):
            yield from super().stream(input, config, **kwargs)


async def _values(snapshot: Awaitable[StateSnapshot]) -> Mapping[str, Any]:
    try:
        return (await snapshot).values
    except Exception:  # no checkpointer: nothing to resume from
        return {}


def _restore(scope: RunScope | None, values: Mapping[str, Any]) -> None:
    """Start a resumed run's budget from the spent counters its checkpoint holds."""
    if scope is not None:
        scope.restore(values.get(SPENT_KEY) if isinstance(values, Mapping) else None)
