"""Field validators shared by the spec types: strict scalars, retry policies, price tables."""

from __future__ import annotations

import math
import types
from typing import Any, Union, get_args, get_origin

from langgraph.types import RetryPolicy
from pydantic import (
    BaseModel,
    ValidationInfo,
)

__all__ = ["price_table", "retry_policy", "strict_scalar"]


def strict_scalar(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Before-validator of every field: ints, floats and bools are not coerced.

    A field typed ``int`` takes an int (not a bool, str or float), ``float`` an int or a
    float, ``bool`` a bool; values for the other types of a union (the ``BackgroundConfig``
    of ``bool | BackgroundConfig``) are left to pydantic.
    """
    field = model.model_fields.get(info.field_name or "")
    if field is None:
        return value
    annotation = field.annotation
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (
        annotation,)
    scalars = {a for a in args if a in (int, float, bool)}
    if not scalars or value is None:
        return value
    ok = (bool in scalars if isinstance(value, bool)
          else bool(scalars & {int, float}) if isinstance(value, int)
          else float in scalars if isinstance(value, float)
          else len(scalars) < len([a for a in args if a is not type(None)])
          and (str in args or not isinstance(value, str | bytes | bytearray)))
    if not ok:
        kinds = " or ".join(sorted(t.__name__ for t in scalars))
        msg = f"must be {kinds} (not converted), got {type(value).__name__} {value!r}"
        raise ValueError(msg)
    return value


MAX_RETRY_SECONDS = 86_400
"""The largest ``initial_interval``, ``max_interval`` (seconds) and ``backoff_factor`` of an
``Agent.retry`` policy: one day between attempts at most."""


def retry_policy(value: Any) -> RetryPolicy | None:
    """``value`` as a ``RetryPolicy``: a policy, a dict of its fields (team files) or None.

    Raises:
        ValueError: an unknown field, a value of the wrong type, ``max_attempts`` below 1, an
            interval or ``backoff_factor`` that is negative, NaN, infinite or above
            :data:`MAX_RETRY_SECONDS` (a wait between attempts that never ends would hang
            the run), or a ``backoff_factor`` below 1.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(RetryPolicy._fields))
        if unknown:
            msg = (f"unknown retry field {unknown[0]!r} (valid: "
                   f"{', '.join(RetryPolicy._fields)})")
            raise ValueError(msg)
        value = RetryPolicy(**value)
    if not isinstance(value, RetryPolicy):
        msg = f"must be a langgraph.types.RetryPolicy or a mapping, got {type(value).__name__}"
        raise ValueError(msg)
    numbers = (value.initial_interval, value.backoff_factor, value.max_interval)
    if (not isinstance(value.max_attempts, int) or isinstance(value.max_attempts, bool)
            or value.max_attempts < 1):
        msg = f"retry.max_attempts must be an integer >= 1, got {value.max_attempts!r}"
        raise ValueError(msg)
    if not all(isinstance(n, int | float) and not isinstance(n, bool)
               and 0 <= n <= MAX_RETRY_SECONDS for n in numbers) or value.backoff_factor < 1:
        msg = (f"retry intervals must be numbers from 0 to {MAX_RETRY_SECONDS:,} (seconds) and "
               f"backoff_factor from 1 to {MAX_RETRY_SECONDS:,}, got (initial_interval, "
               f"backoff_factor, max_interval) = {numbers!r}")
        raise ValueError(msg)
    return value




def price_table(value: Any) -> dict[str, tuple[float, float]] | None:
    """``value`` as an ``Agent.pricing`` table: model name -> (USD/M input, USD/M output).

    A pair may be a tuple or a list (team files); ints are taken as floats.

    Raises:
        ValueError: not a mapping, an empty or non-string model name, or a price that is
            not a pair of finite numbers >= 0 (bools and strings are not converted).
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        msg = f"must be a mapping model name -> (input, output), got {type(value).__name__}"
        raise ValueError(msg)
    table: dict[str, tuple[float, float]] = {}
    for name, pair in value.items():
        if not isinstance(name, str) or not name:
            msg = f"model names must be non-empty strings, got {name!r}"
            raise ValueError(msg)
        prices = list(pair) if isinstance(pair, list | tuple) else []
        if len(prices) != 2 or not all(_usd(p) for p in prices):
            msg = (f"price of {name!r} must be (usd_per_million_input, "
                   f"usd_per_million_output), two numbers >= 0, got {pair!r}")
            raise ValueError(msg)
        table[name] = (float(prices[0]), float(prices[1]))
    return table


def _usd(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)
