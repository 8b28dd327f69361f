"""Watching a run from outside: :func:`observe`, a scope above the root agent's."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from subagents.events import BaseEvent, SubagentEnd, SubagentStart
from subagents.runtime.call import SCOPE_KEY
from subagents.runtime.scope import RunScope, Sink

__all__ = ["observe"]


def observe(config: RunnableConfig | None = None, *, on_event: Sink | None = None,
            detail: Literal["all", "summary"] = "all") -> tuple[RunScope, RunnableConfig]:
    """Watch a run from outside: a scope above the root, and the config to run with.

    Args:
        config: the run's config (thread_id, ...); copied, not changed.
        on_event: receives every event of the run, at every depth.
        detail: ``"summary"`` hides sub-agent chatter (model, text and tool events below the
            root): only ``subagent_start``/``subagent_end`` and the root's own events pass.

    Returns:
        ``(scope, config)``: pass ``config`` to ``invoke``/``ainvoke``/``astream``; the root
        agent's usage node is then ``scope.usage.children[0]``, live while the run goes on and
        complete after it ended, also when it was cancelled or failed.

    Example:
        >>> scope, cfg = observe({"configurable": {"thread_id": "t1"}})
        >>> # await graph.ainvoke(inputs, cfg); scope.usage.children[0].status
    """
    scope = RunScope(agent="(run)", path=(), parent=None, call=None, budget=None,
                     background=None)
    if on_event is not None:
        scope.sinks.append(on_event if detail == "all" else _summary(on_event))
        scope.listening = True
    own: RunnableConfig = {**(config or {})}
    own["configurable"] = {**own.get("configurable", {}), SCOPE_KEY: scope}
    return scope, own


def _summary(sink: Sink) -> Sink:
    def summarised(event: BaseEvent) -> Any:
        if len(event.path) <= 1 or isinstance(event, SubagentStart | SubagentEnd):
            return sink(event)
        return None

    return summarised
