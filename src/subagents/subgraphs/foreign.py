"""Own-graph sub-agents: a compiled LangGraph graph or any ``Runnable`` as a child.

``Agent.from_graph(graph, name=..., input=..., output=...)`` declares it; its "compiled graph"
is a :class:`GraphChild`, a ``Runnable`` the delegation node invokes like a native child with
``{"messages": [task]}`` and that returns ``{"messages": [...], OUTCOME_KEY: (status, result,
error)}``:

- Isolation both ways: the graph gets only the task (the task message, or ``input(text)``),
  and only the result reaches the parent (``structured_response``, the last AI text, or
  ``output(final_state)``); nothing else of its state does.
- Usage, cost, budget and events come from LangChain callbacks (:mod:`._graph_usage`)
  attached to the graph's run config, under a run scope of the child's own (its usage node,
  its ancestry path), as for a native child; its model calls are priced by the agent's
  effective price table (its ``pricing`` over what it inherits), local URLs and
  ``genai-prices``.
- Endings: ``GraphRecursionError`` (past ``2 * max_steps + 6`` supersteps) is ``max_steps``,
  a budget that ran out at a model call is ``over_budget``, any other exception ``failed``
  (the delegation node's rule); interrupts pass through.
- A compiled graph is invoked inside the delegation node, so LangGraph runs it as a
  subgraph: it uses the parent's checkpointer under the node's namespace, an ``interrupt()``
  inside it surfaces at the root and ``Command(resume=...)`` continues it; a persistent one
  runs on its own thread like a native persistent child (``get_state`` is passed through).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager, Callbacks
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.errors import GraphRecursionError
from langgraph.pregel import Pregel

from subagents.errors import SpecError
from subagents.nodes.ending import OUTCOME_KEY, graph_ending
from subagents.results import Ending, Status
from subagents.runtime.call import CALL_KEY, SCOPE_KEY
from subagents.runtime.cost import PriceTable
from subagents.runtime.scope import RunScope, closing
from subagents.runtime.steps import Step, adrive, drive
from subagents.spec import Agent
from subagents.spec.foreign import GraphSpec
from subagents.subgraphs._graph_usage import OverBudget, usage_handler
from subagents.subgraphs._remote_events import open_scope

__all__ = ["GraphChild", "graph_child"]


def graph_child(agent: Agent, pricing: PriceTable | None = None) -> GraphChild:
    """The child graph (a ``GraphChild``) of an own-graph agent, for its ``ChildLink``.

    Args:
        agent: the own-graph agent.
        pricing: its effective price table (``tree_pricing`` of its lineage), which prices
            its graph's model calls.

    Raises:
        SpecError: the agent has no ``graph``.
    """
    if agent.graph is None:
        msg = f"agent {agent.name!r}: field 'graph': not an own-graph sub-agent"
        raise SpecError(msg)
    return GraphChild(agent, agent.graph, pricing)


class GraphChild(Runnable[Any, Any]):
    """A foreign graph or Runnable seen as a child graph (see module docstring).

    Args:
        agent: the child's spec (name, ``max_steps``).
        spec: the graph and its input/output mappings.
        pricing: the agent's effective price table (None: none), for its model calls.
    """

    def __init__(self, agent: Agent, spec: GraphSpec, pricing: PriceTable | None = None) -> None:
        self.agent, self.spec, self.name = agent, spec, agent.name
        self.pricing = pricing
        self.agent_name: str = agent.name
        self.graph: Runnable[Any, Any] = spec.graph

    # -- passed through for persistent children (their own checkpoint thread) ----------

    def get_state(self, config: RunnableConfig, **kwargs: Any) -> Any:
        """The graph's ``get_state`` (a compiled graph only)."""
        return self._pregel().get_state(config, **kwargs)

    async def aget_state(self, config: RunnableConfig, **kwargs: Any) -> Any:
        """The graph's ``aget_state`` (a compiled graph only)."""
        return await self._pregel().aget_state(config, **kwargs)

    def _pregel(self) -> Pregel[Any, Any, Any, Any]:
        if not isinstance(self.graph, Pregel):
            msg = (f"sub-agent {self.agent_name!r}: a persistent own-graph agent needs a "
                   "compiled graph")
            raise SpecError(msg)
        return self.graph

    # -- one run ---------------------------------------------------------------------------

    def _input(self, task: Any) -> Any:
        """The graph's input: ``input(text)``, or the task itself (a resume passes through)."""
        if self.spec.input is None or not isinstance(task, dict) or "messages" not in task:
            return task
        return self.spec.input(str(task["messages"][0].content))

    def _open(self, config: RunnableConfig | None) -> tuple[RunScope | None, RunnableConfig]:
        """The child's scope and the graph's config (without the usage handler)."""
        scope = open_scope(self.agent_name, config)
        # the delegation node's config (callbacks, checkpointer, namespace) plus the call's;
        # by hand: merge_configs would merge the ambient config over each part again
        ambient, passed = var_child_runnable_config.get() or {}, config or {}
        own: RunnableConfig = {**ambient, **passed}
        conf = {**ambient.get("configurable", {}), **passed.get("configurable", {})}
        conf.pop(CALL_KEY, None)
        if scope is not None:
            conf[SCOPE_KEY] = scope
        own["configurable"] = conf
        path = list(scope.usage.path) if scope is not None else [self.agent_name]
        own["metadata"] = {**(ambient.get("metadata") or {}), **(passed.get("metadata") or {}),
                           "lc_agent_name": self.agent_name, "subagents_path": path}
        own["tags"] = [*(own.get("tags") or []), f"subagent:{self.agent_name}"]
        own["run_name"] = self.agent_name
        return scope, own

    def _kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return kwargs if isinstance(self.graph, Pregel) else {}

    def _done(self, scope: RunScope | None, out: Any) -> Any:
        """The child state the delegation node reads (a pause passes through)."""
        if isinstance(out, dict) and out.get("__interrupt__"):
            return out
        return self._state(scope, graph_ending(self.spec, out))

    def _state(self, scope: RunScope | None, ending: Ending) -> dict[str, Any]:
        """The child state: its text, and its ending as a ``(status, result, error)`` tuple.

        A plain tuple, the format ``graph_ending`` reads back (also from older states).
        """
        if scope is not None:
            scope.finish(ending.status)
        text = ending.result if isinstance(ending.result, str) else ""
        return {"messages": [AIMessage(content=text, name=self.agent_name)],
                OUTCOME_KEY: (ending.status, ending.result, ending.error)}

    def _stopped(self, scope: RunScope | None, exc: Exception) -> dict[str, Any]:
        if isinstance(exc, OverBudget):
            return self._state(scope, Ending(Status.OVER_BUDGET, None, str(exc)))
        return self._state(scope, Ending(Status.MAX_STEPS, None, f"stopped after max_steps="
                                         f"{self.agent.max_steps} (recursion limit: {exc})"))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the graph on the task; the child state with its outcome (see module docs)."""
        return drive(self._step(input, config, kwargs))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any) -> Any:
        """:meth:`invoke` with the graph's ``ainvoke``."""
        return await adrive(self._step(input, config, kwargs))

    def _step(self, input: Any, config: RunnableConfig | None,
              kwargs: dict[str, Any]) -> Step[Any]:
        """One run of the graph, written once (``drive``/``adrive``)."""
        scope, cfg = self._open(config)
        with closing(scope):
            try:
                out = yield _RunGraph(self.graph, self._input(input), cfg, self._kwargs(kwargs),
                                      scope, _event_config(config), self.pricing)
            except (GraphRecursionError, OverBudget) as exc:
                return self._stopped(scope, exc)
            return self._done(scope, out)


@dataclass(frozen=True, slots=True)
class _RunGraph:
    """Run a foreign graph with the child's usage handler attached (a sans-IO request).

    Sync: :class:`GraphUsage` (waits for budget room blocking the thread), ``invoke``.
    Async: :class:`AsyncGraphUsage` (waits without blocking the loop), ``ainvoke``.

    Attributes:
        graph: the foreign graph or Runnable.
        input: its input.
        config: its run config (without the handler).
        kwargs: passed on to a compiled graph's ``invoke`` (``interrupt_before`` ...).
        scope: the child's scope (None: no handler, outside a subagents run).
        events: the config its events are written with.
        pricing: the agent's effective price table, for the handler.
    """

    graph: Runnable[Any, Any]
    input: Any
    config: RunnableConfig
    kwargs: dict[str, Any]
    scope: RunScope | None
    events: RunnableConfig
    pricing: PriceTable | None

    def _with(self, *, is_async: bool) -> RunnableConfig:
        if self.scope is None:
            return self.config
        handler = usage_handler(self.scope, self.events, is_async=is_async,
                                pricing=self.pricing)
        return {**self.config, "callbacks": _with_handler(self.config.get("callbacks"), handler)}

    def run(self) -> Any:
        """``graph.invoke`` with the sync handler."""
        return self.graph.invoke(self.input, self._with(is_async=False), **self.kwargs)

    async def arun(self) -> Any:
        """``graph.ainvoke`` with the async handler."""
        return await self.graph.ainvoke(self.input, self._with(is_async=True), **self.kwargs)


def _with_handler(callbacks: Callbacks, handler: BaseCallbackHandler) -> Callbacks:
    """``callbacks`` (None, a list or a manager) with ``handler`` added (copied, inherited)."""
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        return manager
    return [*(callbacks or []), handler]


def _event_config(config: RunnableConfig | None) -> RunnableConfig:
    """The config the child's events are written with: the delegation node's stream.

    The namespace is the node's, as for a native child's events (one level below it).
    """
    node = var_child_runnable_config.get() or config or {}
    conf = dict(node.get("configurable", {}))
    conf["checkpoint_ns"] = f"{conf.get('checkpoint_ns', '')}|graph"
    return {"configurable": conf}
