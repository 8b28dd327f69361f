"""The money a model call costs, in US dollars (USD).

Every model call is priced from the agent's model, once per model when the graph is compiled
(:func:`model_price`); an own graph's calls (``Agent.from_graph``) by the name and base URL
each call reports (:func:`price_of`), in this order:

1. the agent's price table (``Agent(pricing={"my-model": (in_usd, out_usd)})``: USD per
   million input and output tokens, inherited by sub-agents, see :func:`tree_pricing`), by the
   model's name;
2. a local model (its base URL is a loopback address: the embedded llama.cpp ``local``
   models, ``ChatOpenAI(base_url="http://127.0.0.1:8080/v1")``, Ollama) costs 0;
3. the ``genai-prices`` library, by the provider of the model's API base URL (by the model's
   name alone when it sets none), cache reads and writes at their own prices, price tiers
   and dated prices as it knows them; a base URL it knows no provider of (a self-hosted
   server) is unknown;
4. otherwise the price is unknown: its calls cost None.

A call's cost (:func:`price_call`) goes to the usage tree (``UsageNode.cost``) and the
``model_end`` event. ``Budget(max_cost=usd)`` reserves each call's worst case
(:meth:`ModelPrice.worst`) before the call; a tree whose budget has ``max_cost`` and an agent
whose model has no known price fails with :class:`UnpricedModelError` (``compile_agent``
checks the agents it compiles, :func:`require_price`; a call under a ``max_cost`` budget met
at run time raises it too, before the call: a sub-agent's delegation ends ``failed`` with it).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from subagents.errors import SpecError
from subagents.runtime.usage import UsageNode
from subagents.spec.agent import Agent

__all__ = ["BASE_URL_FIELDS", "ModelPrice", "PriceSource", "PriceTable", "UnpricedModelError",
           "model_name", "model_price", "price_call", "price_of", "pricing_key", "require_price",
           "tree_pricing"]

PriceTable = Mapping[str, tuple[float, float]]
"""Model name -> (USD per million input tokens, USD per million output tokens)."""
PriceSource = Literal["pricing", "local", "genai-prices"]
"""Where a price comes from: the agent's table, a local model (0), ``genai-prices``."""
BASE_URL_FIELDS = ("openai_api_base", "base_url", "anthropic_api_url")
"""A chat model's fields that hold its API base URL (the first one set is used)."""
_MILLION = 1_000_000
_LOCAL_HOSTS = frozenset({"localhost", "0.0.0.0"})
_INPUT_KEYS = ("input_mtok", "cache_write_mtok", "cache_write_5m_mtok", "cache_write_1h_mtok")
"""``genai-prices`` input prices: a reservation takes the highest (a cache write may cost more)."""


class UnpricedModelError(SpecError):
    """A budget with ``max_cost`` covers a model whose price is unknown.

    Raised by ``compile_agent`` (an agent of the compiled tree) or before a model call (a
    budget from outside the compiled graph, a foreign graph's call). Name the model in the
    agent's ``pricing`` to fix it.
    """


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """How the calls of one model are priced.

    Attributes:
        model: the model's name (None: the model has no name attribute).
        source: where the price comes from (``"pricing"``, ``"local"``, ``"genai-prices"``),
            None when it is unknown.
        input: USD per million input tokens (for reservations: the highest tier's), None
            when unknown.
        output: USD per million output tokens, None when unknown.
        exact: ``genai-prices``' own calculation of a call's cost from its usage (cached
            input at its own price, tiers), None for a table or local price.
    """

    model: str | None
    source: PriceSource | None = None
    input: float | None = None
    output: float | None = None
    exact: Callable[[Mapping[str, Any]], float] | None = field(
        default=None, repr=False, compare=False)

    @property
    def known(self) -> bool:
        """Whether calls of this model have a price."""
        return self.source is not None

    def cost(self, usage: Mapping[str, Any] | None) -> float | None:
        """USD of one call from its ``usage_metadata``.

        Returns:
            The cost; None when the price is unknown, or the call reported no usage or one
            ``genai-prices`` cannot price (0 for a local model).
        """
        if self.input is None or self.output is None:
            return None
        if self.source == "local":
            return 0.0
        if not usage:
            return None
        if self.exact is not None:
            try:
                return self.exact(usage)
            except (ValueError, TypeError, ArithmeticError):  # usage it cannot price
                return None
        return (int(usage.get("input_tokens", 0)) * self.input
                + int(usage.get("output_tokens", 0)) * self.output) / _MILLION

    def worst(self, prompt_tokens: int, output_tokens: int, agent: str | None = None) -> float:
        """The most a call may cost: ``prompt_tokens`` in and ``output_tokens`` out (USD).

        Args:
            prompt_tokens: the request's prompt estimate.
            output_tokens: the most output tokens the call may return.
            agent: the agent making the call, named in the error (None: not named).

        Raises:
            UnpricedModelError: the price is unknown (a call under ``max_cost`` may not be
                made).
        """
        if self.input is None or self.output is None:
            if agent is None:
                raise UnpricedModelError(_unpriced(self.model))
            msg = (f"agent {agent!r}: a model call of unknown price under a budget with "
                   f"max_cost: {_unpriced(self.model)}")
            raise UnpricedModelError(msg)
        return (prompt_tokens * self.input + output_tokens * self.output) / _MILLION


def model_name(model: Any) -> str | None:
    """A chat model's name: its ``model_name``, ``model`` or ``model_id`` attribute.

    A ``bind``/``bind_tools`` wrapper is looked through.
    """
    inner = _unwrap(model)
    for attr in ("model_name", "model", "model_id"):
        value = getattr(inner, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def model_price(model: Any, pricing: PriceTable | None = None) -> ModelPrice:
    """The price of ``model``'s calls (see the module docstring for the order).

    Args:
        model: a chat model (or a binding of one).
        pricing: the agent's effective price table (:func:`tree_pricing`).

    Returns:
        The price; ``known`` is False when neither the table, a local base URL nor
        ``genai-prices`` prices it.
    """
    return price_of(model_name(model), _base_url(model), pricing)


def price_of(name: str | None, url: str | None = None,
             pricing: PriceTable | None = None) -> ModelPrice:
    """The price of a model's calls by its name and API base URL (the module docstring's order).

    For a model known only by what it reports (an own graph's calls, seen through LangChain
    callbacks: ``ls_model_name`` and the ``base_url`` it was built with); :func:`model_price`
    prices a model object with it.

    Args:
        name: the model's name (None: only a local ``url`` can price it).
        url: its API base URL (None: none set; ``genai-prices`` looks the name up alone).
        pricing: the agent's effective price table (:func:`tree_pricing`).

    Returns:
        The price; ``known`` is False when neither the table, a local base URL nor
        ``genai-prices`` prices it.
    """
    if name is not None and pricing and name in pricing:
        usd_in, usd_out = pricing[name]
        return ModelPrice(name, "pricing", float(usd_in), float(usd_out))
    if url is not None and _is_local(url):
        return ModelPrice(name, "local", 0.0, 0.0)
    if name is None:
        return ModelPrice(None)
    return _genai_price(name, url)


def tree_pricing(lineage: Sequence[Agent]) -> dict[str, tuple[float, float]]:
    """The price table of the last agent of ``lineage`` (root first).

    Each agent's own ``pricing`` entries override those it inherits from its ancestors; the
    others are inherited.
    """
    table: dict[str, tuple[float, float]] = {}
    for agent in lineage:
        if agent.pricing:
            table.update(agent.pricing)
    return table


def pricing_key(lineage: Sequence[Agent]) -> tuple[object, ...]:
    """What a compiled agent's pricing depends on: its table and whether ``max_cost`` applies.

    Two places of a tree with the same key may share the agent's compiled graph.
    """
    capped = any(a.budget is not None and a.budget.max_cost is not None for a in lineage)
    return tuple(sorted(tree_pricing(lineage).items())), capped


def require_price(lineage: Sequence[Agent], price: ModelPrice) -> None:
    """Refuse an unknown price under a ``max_cost`` budget of ``lineage`` (root first).

    Raises:
        UnpricedModelError: an agent of ``lineage`` has ``Budget(max_cost=...)`` and
            ``price`` is unknown; the message names the agent, its model and the budget.
    """
    if price.known:
        return
    capped = next((a for a in lineage if a.budget is not None
                   and a.budget.max_cost is not None), None)
    if capped is not None:
        owner = f"agent {capped.name!r}'s" if capped is not lineage[-1] else "its"
        msg = (f"agent {lineage[-1].name!r}: {_unpriced(price.model)}; {owner} budget has "
               "max_cost")
        raise UnpricedModelError(msg)


def price_call(usage_node: UsageNode | None, price: ModelPrice, ai: Any) -> float | None:
    """Charge one model reply to the run: its cost, recorded on the agent's usage node.

    The node's model calls and tokens are recorded here too (``UsageNode.record_model_call``).

    Args:
        usage_node: the agent invocation's usage node (None: nothing is recorded).
        price: the price of the model that replied.
        ai: the reply (an ``AIMessage``: its ``usage_metadata`` and ``tool_calls``).

    Returns:
        The call's cost in USD, None when unknown (see :meth:`ModelPrice.cost`).
    """
    usage = getattr(ai, "usage_metadata", None)
    cost = price.cost(usage)
    if usage_node is not None:
        usage_node.record_model_call(usage, len(getattr(ai, "tool_calls", None) or ()), cost)
    return cost


def _unpriced(name: str | None) -> str:
    shown = repr(name) if name else "(a model without a name)"
    return (f"model {shown} has no known price (genai-prices does not know it and no "
            f"pricing entry names it): add Agent(pricing={{{shown}: (usd_per_million_input, "
            "usd_per_million_output)})")


def _unwrap(model: Any) -> Any:
    while hasattr(model, "bound") and not hasattr(model, "model_name"):
        model = model.bound
    return model


def _base_url(model: Any) -> str | None:
    inner = _unwrap(model)
    for attr in BASE_URL_FIELDS:
        value = getattr(inner, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _is_local(url: str) -> bool:
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def _genai_price(name: str, url: str | None) -> ModelPrice:
    """``genai-prices``' price of a model, by its API's provider or its name.

    By the provider of its base URL, or with no URL by its name alone; unknown when the URL
    is no provider's it knows (a self-hosted server: price it in ``Agent.pricing``) or that
    provider has no such model.
    """
    # imported on first use: importing genai_prices costs ~70 ms, a run without a priced
    # model pays nothing
    from genai_prices import Usage
    from genai_prices.data_snapshot import get_snapshot

    try:
        provider, info = get_snapshot().find_provider_model(name, None, None, url)
    except LookupError:
        return ModelPrice(name)

    def exact(usage: Mapping[str, Any]) -> float:
        details = usage.get("input_token_details") or {}
        counts = {"input_tokens": int(usage.get("input_tokens", 0)),
                  "output_tokens": int(usage.get("output_tokens", 0)),
                  "cache_read_tokens": int(details.get("cache_read", 0) or 0),
                  "cache_write_tokens": int(details.get("cache_creation", 0) or 0)}
        return float(info.calc_price(Usage(**counts), provider).total_price)

    prices = info.get_prices(datetime.now(tz=UTC))
    worst_in = max(_top(getattr(prices, key, None)) for key in _INPUT_KEYS)
    return ModelPrice(name, "genai-prices", worst_in, _top(getattr(prices, "output_mtok", None)),
                      exact)


def _top(price: Any) -> float:
    """USD per million tokens of a price: a number, or the highest of a tiered price."""
    if price is None:
        return 0.0
    tiers = getattr(price, "tiers", None)
    if tiers is not None:
        return float(max([price.base, *(t.price for t in tiers)]))
    return float(price)

