"""Usage, budget and events of a foreign graph, read through LangChain callbacks.

An own-graph sub-agent (``Agent.from_graph``) runs nodes we did not write, so its model and
tool calls are observed from outside: a callback handler attached to its run config sees
every chat model and tool run at any depth of the graph and

- prices each model call by the name and base URL it reports (``ls_model_name`` in the
  run's metadata, else ``model``/``model_name`` of its invocation parameters; the
  ``base_url``/``openai_api_base`` it was built with) and the agent's effective price table,
  as a native agent's model is priced (:func:`subagents.runtime.cost.price_of`; one look-up
  per name and URL per run);
- reserves each model call in the tree's ``Budget`` at ``on_chat_model_start`` (as the
  model node does before its call: tokens, and under ``max_cost`` its worst case, the
  prompt estimate plus its max output tokens at its price) and raises :class:`OverBudget`
  there when the budget is out: the graph stops before the call and the delegation ends
  ``over_budget``; a reply with tool calls reserves a tool round at ``on_llm_end`` (raising
  the same way). A call of unknown price under ``max_cost`` raises ``UnpricedModelError``
  there (naming the agent and the model): the graph stops before the call and the
  delegation ends ``failed`` with that error, as a native agent's call of unknown price met
  at run time;
- records each reply's ``usage_metadata``, tool calls and cost in the child's usage node
  and settles the call's reservation with its tokens and cost (an unknown cost, a reply
  without usage or a failed call, counts the reserved worst case, as for a native call);
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
from dataclasses import dataclass
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
from subagents.runtime.cost import BASE_URL_FIELDS, ModelPrice, PriceTable, price_call, price_of
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


@dataclass(frozen=True, slots=True)
class _Call:
    """One model call about to start: its prompt, price and max output tokens."""

    messages: list[BaseMessage]
    price: ModelPrice
    max_output: int
    agent: str

    def estimate(self) -> int:
        """Tokens to reserve: the prompt estimate plus the call's max output tokens."""
        return prompt_tokens(self.messages) + self.max_output

    def worst(self) -> float:
        """USD to reserve: the same tokens at the call's price.

        Raises:
            UnpricedModelError: the price is unknown (only asked under ``max_cost``).
        """
        return self.price.worst(prompt_tokens(self.messages), self.max_output, self.agent)


class _Core:
    """What both handlers do, sync parts (``scope``: the child's run scope)."""

    def __init__(self, scope: RunScope, config: RunnableConfig,
                 pricing: PriceTable | None) -> None:
        self.scope = scope
        self.emit = Emitter(scope, config)
        self.config = config
        self.pricing = pricing
        self.prices: dict[tuple[str | None, str | None], ModelPrice] = {}
        self.held: dict[UUID, Reservation] = {}
        self.running: dict[UUID, ModelPrice] = {}
        self.tools: dict[UUID, ToolCall] = {}
        self.lock = threading.Lock()

    def price(self, name: str | None, url: str | None) -> ModelPrice:
        """The price of a model by its name and base URL (looked up once per run)."""
        price = self.prices.get((name, url))
        if price is None:
            price = self.prices[name, url] = price_of(name, url, self.pricing)
        return price

    def call(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
             kwargs: dict[str, Any]) -> _Call:
        """The call ``on_chat_model_start`` announces (raises ``Stopped`` when stopped)."""
        self.check()
        params = kwargs.get("invocation_params") or {}
        price = self.price(*_model_of(serialized, kwargs.get("metadata") or {}, params))
        return _Call(_flat(messages), price, max_output_tokens(SimpleNamespace(**params)),
                     self.scope.usage.agent)

    def check(self) -> None:
        """Raise ``Stopped`` when the delegation stopped waiting (a sync child's timeout)."""
        if self.scope.stopped:
            raise Stopped

    def started(self, run_id: UUID, call: _Call, held: Reservation | str | None) -> None:
        if isinstance(held, str):
            raise OverBudget(held)
        with self.lock:
            self.running[run_id] = call.price
            if held is not None:
                self.held[run_id] = held
        self.emit.model_start(len(call.messages))

    def ended(self, response: LLMResult, run_id: UUID) -> None:
        gen = response.generations[0][0] if response.generations and response.generations[0] \
            else None
        message = getattr(gen, "message", None)
        ai = message if isinstance(message, AIMessage) else AIMessage(
            content=gen.text if gen is not None else "")
        usage = ai.usage_metadata
        cost = price_call(self.scope.usage, self.reply_price(run_id, ai), ai)
        self.settle(run_id, int(usage["total_tokens"]) if usage else 0, cost)
        self.emit.model_end(ai, cost)
        budget = self.scope.budget
        if ai.tool_calls and budget is not None:
            reason = budget.reserve_round()
            if reason is not None:
                raise OverBudget(reason)
            self.scope.add_spent(tool_rounds=1)

    def reply_price(self, run_id: UUID, ai: AIMessage) -> ModelPrice:
        """The price of a reply: its call's, else by the model name the reply reports."""
        with self.lock:
            price = self.running.pop(run_id, None)
        if price is not None and (price.known or price.model is not None):
            return price
        named = ai.response_metadata.get("model_name")
        return self.price(named if isinstance(named, str) and named else None, None)

    def settle(self, run_id: UUID, used: int, cost: float | None) -> None:
        """Settle a call's reservation: ``used`` tokens, ``cost`` USD (None: its worst case)."""
        with self.lock:
            held = self.held.pop(run_id, None)
            self.running.pop(run_id, None)
        if held is not None:
            held.settle(used, cost)
            self.scope.add_spent(model_calls=1, tokens=used,
                                 cost=held.cost if cost is None else cost)

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


def _model_of(serialized: dict[str, Any] | None, metadata: dict[str, Any],
              params: dict[str, Any]) -> tuple[str | None, str | None]:
    """A chat model run's model name and API base URL, from its callback's arguments.

    The name: LangChain's ``ls_model_name`` (run metadata), else the invocation parameters'
    ``model``/``model_name``. The URL: a base URL field the model was built with (its
    serialized constructor arguments; not there for a model LangChain cannot serialize or
    one that takes its URL from the environment), else one in the invocation parameters.
    """
    built = (serialized or {}).get("kwargs") or {}
    name = _first(metadata.get("ls_model_name"), params.get("model"), params.get("model_name"))
    url = _first(*(built.get(f) for f in BASE_URL_FIELDS),
                 *(params.get(f) for f in BASE_URL_FIELDS))
    return name, url


def _first(*values: Any) -> str | None:
    """The first non-empty string of ``values``."""
    return next((v for v in values if isinstance(v, str) and v), None)


class GraphUsage(_Quiet, BaseCallbackHandler):
    """Sync handler: usage, budget and events of a foreign graph (see module docstring)."""

    raise_error = True
    run_inline = True

    def __init__(self, scope: RunScope, config: RunnableConfig,
                 pricing: PriceTable | None = None) -> None:
        self.core = _Core(scope, config, pricing)

    def on_chat_model_start(self, serialized: dict[str, Any],
                            messages: list[list[BaseMessage]], *, run_id: UUID,
                            **kwargs: Any) -> Any:
        call = self.core.call(serialized, messages, kwargs)
        budget = self.core.scope.budget
        held = budget.reserve_call(call.estimate, call.worst) if budget else None
        self.core.started(run_id, call, held)

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> Any:
        self.core.token(token)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.ended(response, run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.core.settle(run_id, 0, None)

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

    def __init__(self, scope: RunScope, config: RunnableConfig,
                 pricing: PriceTable | None = None) -> None:
        self.core = _Core(scope, config, pricing)

    async def on_chat_model_start(self, serialized: dict[str, Any],
                                  messages: list[list[BaseMessage]], *, run_id: UUID,
                                  **kwargs: Any) -> Any:
        call = self.core.call(serialized, messages, kwargs)
        budget = self.core.scope.budget
        held = await budget.areserve_call(call.estimate, call.worst) if budget else None
        self.core.started(run_id, call, held)

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.core.token(token)

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.ended(response, run_id)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.core.settle(run_id, 0, None)

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


def usage_handler(scope: RunScope, config: RunnableConfig, *, is_async: bool,
                  pricing: PriceTable | None = None) -> GraphUsage | AsyncGraphUsage:
    """The handler for one foreign graph run; a streaming one when someone listens.

    Args:
        scope: the child's run scope.
        config: the config its events are written with (stream and namespace).
        is_async: the graph runs with ``ainvoke``.
        pricing: the agent's effective price table (``tree_pricing`` of its lineage: its own
            ``pricing`` over what it inherits); None: no table, other prices still apply.
    """
    listening = scope.listening
    if is_async:
        return (_StreamingAsyncGraphUsage if listening else AsyncGraphUsage)(scope, config,
                                                                               pricing)
    return (_StreamingGraphUsage if listening else GraphUsage)(scope, config, pricing)
