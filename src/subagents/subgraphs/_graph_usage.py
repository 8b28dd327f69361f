"""Usage, budget and events of a foreign graph, read through LangChain callbacks.

An own-graph sub-agent (``Agent.from_graph``) runs nodes we did not write, so its model and
tool calls are observed from outside: a callback handler attached to its run config sees
every chat model and tool run at any depth of the graph and

- reserves each model call in the tree's ``Budget`` at ``on_chat_model_start`` (as the
  model node does before its call) and raises :class:`OverBudget` there when the budget is
  out: the graph stops before the call and the delegation ends ``over_budget``; a reply with
  tool calls reserves a tool round at ``on_llm_end`` (raising the same way);
- records each reply's ``usage_metadata`` and tool calls in the child's usage node and
  settles the call's token reservation;
- emits ``model_start`` / ``model_end`` / ``text_delta`` / ``tool_start`` / ``tool_end``
  through the child's run scope, so they carry the child's ancestry path.

A sync child whose delegation stopped waiting (``Agent.timeout``) raises ``Stopped`` at its
next model or tool call, as a native child's nodes do.

Handlers are raising (``raise_error``) and inline (``run_inline``): an ``OverBudget`` stops
the graph, and events keep their order. :class:`AsyncGraphUsage` waits for budget room
without blocking the event loop.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig

from subagents.errors import SubagentsError
from subagents.events import TextDelta
from subagents.nodes import Emitter
from subagents.runtime.budget import Reservation, max_output_tokens, prompt_tokens
from subagents.runtime.call import Stopped
from subagents.runtime.scope import RunScope
from subagents.runtime.upstream import StreamingCallbackHandler

__all__ = ["AsyncGraphUsage", "GraphUsage", "OverBudget", "usage_handler"]


class OverBudget(SubagentsError):
    """Raised inside a foreign graph's model call when the tree's budget is out."""


class _Quiet:
    """Skips the callbacks neither handler reads (every node's chain events, retrievers).

    Not ``ignore_agent``: it also gates the tool callbacks.
    """

    ignore_chain = True
    ignore_retriever = True
    ignore_custom_event = True
    ignore_retry = True


class _Core:
    """What both handlers do, sync parts (``scope``: the child's run scope)."""

    def __init__(self, scope: RunScope, config: RunnableConfig) -> None:
        self.scope = scope
        self.emit = Emitter(scope, config)
        self.config = config
        self.held: dict[UUID, Reservation] = {}
        self.tools: dict[UUID, ToolCall] = {}
        self.lock = threading.Lock()

    @staticmethod
    def estimate(messages: list[Any], params: dict[str, Any] | None) -> int:
        """Tokens to reserve: the prompt estimate plus the call's max output tokens.

        ``params``: the call's invocation parameters (``max_tokens`` and the like, when set).
        """
        return prompt_tokens(messages) + max_output_tokens(SimpleNamespace(**(params or {})))

    def check(self) -> None:
        """Raise ``Stopped`` when the delegation stopped waiting (a sync child's timeout)."""
        if self.scope.stopped:
            raise Stopped

    def started(self, run_id: UUID, messages: list[Any], held: Reservation | str | None) -> None:
        if isinstance(held, str):
            raise OverBudget(held)
        if held is not None:
            with self.lock:
                self.held[run_id] = held
        self.emit.model_start(len(messages))

    def ended(self, response: LLMResult, run_id: UUID) -> None:
        gen = response.generations[0][0] if response.generations and response.generations[0] \
            else None
        message = getattr(gen, "message", None)
        ai = message if isinstance(message, AIMessage) else AIMessage(
            content=gen.text if gen is not None else "")
        usage = ai.usage_metadata
        self.settle(run_id, int(usage["total_tokens"]) if usage else 0)
        self.scope.usage.record_model_call(usage, len(ai.tool_calls))
        self.emit.model_end(ai)
        budget = self.scope.budget
        if ai.tool_calls and budget is not None:
            reason = budget.reserve_round()
            if reason is not None:
                raise OverBudget(reason)
            self.scope.add_spent(tool_rounds=1)

    def settle(self, run_id: UUID, used: int) -> None:
        with self.lock:
            held = self.held.pop(run_id, None)
        if held is not None:
            held.settle(used)
            self.scope.add_spent(model_calls=1, tokens=used)

    def token(self, token: Any) -> None:
        if isinstance(token, str) and token and self.emit.scope is not None:
            path = self.scope.usage
            self.emit.scope.emit(TextDelta(path=list(path.path), agent=path.agent,
                                           tool_call_id=path.tool_call_id, text=token),
                                 self.config)

    def tool_started(self, run_id: UUID, serialized: dict[str, Any], inputs: Any,
                     kwargs: dict[str, Any]) -> None:
        self.check()
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        call_id = kwargs.get("tool_call_id") or str(run_id)
        tc = ToolCall(name=name, args=dict(inputs) if isinstance(inputs, dict) else {},
                      id=str(call_id), type="tool_call")
        with self.lock:
            self.tools[run_id] = tc
        self.emit.tool_start(tc)

    def tool_ended(self, run_id: UUID, output: Any, error: bool) -> None:
        with self.lock:
            tc = self.tools.pop(run_id, None)
        if tc is None:
            return
        msg = output if isinstance(output, ToolMessage) else ToolMessage(
            content=str(getattr(output, "content", output)), tool_call_id=tc["id"] or "",
            status="error" if error else "success")
        self.emit.tool_end(tc, msg)


def _flat(messages: list[list[BaseMessage]]) -> list[BaseMessage]:
    return messages[0] if messages else []


class GraphUsage(_Quiet, BaseCallbackHandler):
    """Sync handler: usage, budget and events of a foreign graph (see module docstring)."""

    raise_error = True
    run_inline = True

    def __init__(self, scope: RunScope, config: RunnableConfig) -> None:
        self.core = _Core(scope, config)

    def on_chat_model_start(self, serialized: dict[str, Any],
                            messages: list[list[BaseMessage]], *, run_id: UUID,
                            **kwargs: Any) -> Any:
        self.core.check()
        msgs = _flat(messages)
        budget = self.core.scope.budget
        params = kwargs.get("invocation_params")
        held = budget.reserve_call(lambda: _Core.estimate(msgs, params)) if budget else None
        self.core.started(run_id, msgs, held)

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> Any:
        self.core.token(token)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.ended(response, run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.settle(run_id, 0)

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID,
                      inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.core.tool_started(run_id, serialized, inputs, kwargs)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.tool_ended(run_id, output, error=False)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.tool_ended(run_id, f"{type(error).__name__}: {error}", error=True)


class AsyncGraphUsage(_Quiet, AsyncCallbackHandler):
    """Async twin of :class:`GraphUsage`: waits for budget room without blocking the loop."""

    raise_error = True
    run_inline = True

    def __init__(self, scope: RunScope, config: RunnableConfig) -> None:
        self.core = _Core(scope, config)

    async def on_chat_model_start(self, serialized: dict[str, Any],
                                  messages: list[list[BaseMessage]], *, run_id: UUID,
                                  **kwargs: Any) -> Any:
        self.core.check()
        msgs = _flat(messages)
        budget = self.core.scope.budget
        params = kwargs.get("invocation_params")
        held = (await budget.areserve_call(lambda: _Core.estimate(msgs, params))
                if budget else None)
        self.core.started(run_id, msgs, held)

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.core.token(token)

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.ended(response, run_id)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.settle(run_id, 0)

    async def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID,
                            inputs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.core.tool_started(run_id, serialized, inputs, kwargs)

    async def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.tool_ended(run_id, output, error=False)

    async def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.tool_ended(run_id, f"{type(error).__name__}: {error}", error=True)


class _Streaming(StreamingCallbackHandler[Any]):
    """Marks a handler whose presence makes models stream (for ``text_delta`` events)."""

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output


class _StreamingGraphUsage(GraphUsage, _Streaming):
    pass


class _StreamingAsyncGraphUsage(AsyncGraphUsage, _Streaming):
    pass


def usage_handler(scope: RunScope, config: RunnableConfig, *,
                  is_async: bool) -> GraphUsage | AsyncGraphUsage:
    """The handler for one foreign graph run; a streaming one when someone listens.

    Args:
        scope: the child's run scope.
        config: the config its events are written with (stream and namespace).
        is_async: the graph runs with ``ainvoke``.
    """
    listening = scope.listening
    if is_async:
        return (_StreamingAsyncGraphUsage if listening else AsyncGraphUsage)(scope, config)
    return (_StreamingGraphUsage if listening else GraphUsage)(scope, config)
