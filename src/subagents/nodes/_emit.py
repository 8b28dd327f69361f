"""Event emission from nodes: cheap no-ops when nobody listens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs

from subagents.events import (
    BaseEvent,
    ModelEnd,
    ModelStart,
    SubagentEnd,
    SubagentRetry,
    SubagentStart,
    TextDelta,
    ToolEnd,
    ToolStart,
)
from subagents.nodes._refuse import Refusal
from subagents.results import Ending
from subagents.runtime.call import CallInfo
from subagents.runtime.scope import RunScope
from subagents.runtime.upstream import StreamingCallbackHandler as _StreamingCallbackHandler

__all__ = ["Emitter"]


def _ids(scope: RunScope) -> dict[str, Any]:
    return {"path": list(scope.usage.path), "agent": scope.usage.agent,
            "tool_call_id": scope.usage.tool_call_id}


class _Deltas(BaseCallbackHandler, _StreamingCallbackHandler[Any]):
    """Turns streamed tokens into ``text_delta`` events (its presence makes models stream)."""

    run_inline = True

    def __init__(self, scope: RunScope, config: RunnableConfig) -> None:
        self.scope, self.config = scope, config

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        if isinstance(token, str) and token:
            self.scope.emit(TextDelta(**_ids(self.scope), text=token), self.config)

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output


class Emitter:
    """Emits one agent's events through its ``RunScope`` (see ``subagents.events``)."""

    __slots__ = ("config", "scope")

    def __init__(self, scope: RunScope | None, config: RunnableConfig) -> None:
        on = scope is not None and scope.wants_events(config)
        self.scope: RunScope | None = scope if on else None
        self.config = config

    def home(self) -> tuple[Emitter, RunnableConfig]:
        """``(self, config)``: a delegation's parent side (``nodes.child_run.Home``)."""
        return self, self.config

    def _emit(self, event: BaseEvent) -> None:
        assert self.scope is not None
        self.scope.emit(event, self.config)

    def model_config(self) -> RunnableConfig | None:
        """The config for a model call: with a delta handler when someone listens.

        ``None`` otherwise: the model then inherits the node's config from LangGraph's
        context (``var_child_runnable_config``), which spares LangChain a second copy.
        """
        if self.scope is None or not self.scope.listening:
            return None
        return merge_configs(self.config, {"callbacks": [_Deltas(self.scope, self.config)]})

    def model_start(self, messages: int) -> None:
        """Before a model call."""
        if self.scope is not None:
            self._emit(ModelStart(**_ids(self.scope), messages=messages))

    def model_end(self, ai: AIMessage, cost: float | None = None) -> None:
        """After a model call (``cost``: its USD, None when unknown)."""
        if self.scope is not None:
            usage = dict(ai.usage_metadata) if ai.usage_metadata else None
            self._emit(ModelEnd(**_ids(self.scope), text=ai.text[:500], usage=usage,
                                tool_calls=[tc["name"] for tc in ai.tool_calls], cost=cost))

    def tool_start(self, tc: ToolCall) -> None:
        """Before one of the agent's own tools runs."""
        if self.scope is not None:
            self._emit(ToolStart(**_ids(self.scope), name=tc["name"], call_id=tc["id"] or "",
                                 args=dict(tc["args"])))

    def tool_end(self, tc: ToolCall, msg: ToolMessage) -> None:
        """After one of the agent's own tools ran."""
        if self.scope is not None:
            status = "error" if msg.status == "error" else "success"
            self._emit(ToolEnd(**_ids(self.scope), name=tc["name"], call_id=tc["id"] or "",
                               status=status, content=str(msg.content)[:2000]))

    def child_path(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """A child's ancestry path under this run (``path``: its compile-time one).

        A graph may run at several places of the tree: the child's path is this run's path
        plus the child's name.
        """
        return (*self.scope.usage.path, path[-1]) if self.scope is not None else path

    def child_start(self, path: tuple[str, ...], tc: ToolCall, objective: str,
                    background: bool) -> None:
        """A delegation starts a child at ``path``."""
        if self.scope is not None:
            path = self.child_path(path)
            self._emit(SubagentStart(path=list(path), agent=path[-1], tool_call_id=tc["id"],
                                     objective=objective, background=background))

    def child_end(self, path: tuple[str, ...], tc: ToolCall, ending: Ending,
                  call: CallInfo) -> None:
        """A delegated child at ``path`` ended so.

        ``call``: the delegation's record (its ``attempt`` count and failed attempts'
        ``errors``); the usage is that of the scope its attempt opened under this run.
        """
        if self.scope is not None:
            path = self.child_path(path)
            usage = self._child_usage(call)
            tries = {"attempts": call.attempt, "errors": list(call.errors)}
            self._emit(SubagentEnd(path=list(path), agent=path[-1], tool_call_id=tc["id"],
                                   status=ending.status, result=ending.result,
                                   error=ending.error, usage=usage, **tries))

    def child_retry(self, path: tuple[str, ...], tc: ToolCall, call: CallInfo,
                    failed: Ending, delay: float) -> None:
        """Attempt ``call.attempt`` of the child at ``path`` failed and will be retried.

        ``delay``: seconds until the next attempt.
        """
        if self.scope is not None:
            usage = self._child_usage(call)
            self._emit(SubagentRetry(path=list(path), agent=path[-1], tool_call_id=tc["id"],
                                     attempt=call.attempt, status=failed.status,
                                     error=failed.error, delay=delay, usage=usage))

    def _child_usage(self, call: CallInfo) -> dict[str, Any]:
        """The usage record of the scope ``call``'s attempt opened here (empty: none)."""
        child = self.scope.child(call) if self.scope is not None else None
        return child.usage.to_dict() if child is not None else {}

    def refusals(self, refused: Sequence[Refusal]) -> None:
        """Delegations the runtime refused (``Decision.refused``, invalid arguments).

        Each gets a ``subagent_start`` followed at once by its ``subagent_end``
        (``refused=True``, the refusal's status and error, no usage) at the addressed
        child's path, the pair a child that ran would have.
        """
        if self.scope is None or not refused:
            return
        for r in refused:
            ids = {"path": list(self.child_path(r.path)), "agent": r.path[-1],
                   "tool_call_id": r.tool_call_id}
            self._emit(SubagentStart(**ids, objective=r.objective, background=r.background))
            self._emit(SubagentEnd(**ids, status=r.status, error=r.error, refused=True))
