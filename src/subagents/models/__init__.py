"""Chat model resolution: which model an agent runs on.

Order (first that is set wins):

1. the agent's own ``model`` (a ``BaseChatModel`` is used as is; a string is parsed),
2. ``cli_model`` (the ``--model`` option),
3. the environment variable ``SUBAGENTS_MODEL``,
4. ``fallback`` (the parent's resolved model, passed by the compiler),
5. the embedded local model (``subagents.local``, 1.5B).

Model strings:

* ``"local"``, ``"local:1.5b"``, ``"local:0.5b"``: the embedded llama.cpp server.
* ``"openai:NAME"`` or a bare ``"NAME"`` (also ``"qwen2.5:7b"``-style names): ``ChatOpenAI``
  with ``model=NAME``, for any OpenAI-compatible endpoint: ``OPENAI_BASE_URL`` (or
  ``OPENAI_API_BASE``) and ``OPENAI_API_KEY`` are read from the environment; with a base URL
  and no key a placeholder key is sent (local servers ignore it).
* ``"python:package.module:attr"``: a ``BaseChatModel`` object (or a function returning one)
  importable from Python, e.g. a ``subagents.testing.ScriptedChatModel`` that a LangGraph
  server test selects through ``SUBAGENTS_MODEL``.
* Other LangChain provider prefixes (``"anthropic:..."`` ...) are rejected: pass a
  ``BaseChatModel`` instance instead (this package does not depend on ``langchain``).

OpenAI-compatible endpoints fail fast and say where (:class:`EndpointChatOpenAI`, a
``ChatOpenAI``, so ``bind_tools`` works): requests stream, so the read timeout bounds the wait
for the first token and between chunks, not the length of an answer. Transient errors
(connection errors, timeouts, HTTP 408/409/429/5xx) are retried by the OpenAI client with
exponential backoff (0.5 s doubling, max 8 s). Settings (environment, seconds):

=================================  =======  ================================================
``SUBAGENTS_MODEL_CONNECT_TIMEOUT``  5        to open a connection
``SUBAGENTS_MODEL_READ_TIMEOUT``     12       the endpoint may send nothing (first token too)
``SUBAGENTS_MODEL_TIMEOUT``          120      write and pool; caps the two above when unset
``SUBAGENTS_MODEL_MAX_RETRIES``      3        retries after the first try
=================================  =======  ================================================

With the defaults an endpoint that accepts connections and never answers gives up after
4 tries in about 52 s (4 x 12 s plus backoff) with :class:`~subagents.errors.ModelEndpointError`
naming the base URL, the model, the agent and the number of tries. The embedded local model
(``subagents.local``) has its own, longer timeout: its prompt evaluation is slow on a CPU.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, overload

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableBinding
from langchain_openai import ChatOpenAI

from subagents import local
from subagents.errors import ModelResolutionError
from subagents.models._endpoint import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    EndpointChatOpenAI,
    endpoint_timeout,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ENV_MODEL",
    "EndpointChatOpenAI",
    "is_local_model",
    "model_from_string",
    "openai_chat_model",
    "parse_model_string",
    "resolve_model",
]

ENV_MODEL = "SUBAGENTS_MODEL"
"""Environment variable naming the default model (same string forms as ``Agent.model``)."""

DEFAULT_MAX_RETRIES = 3
"""Retries of transient errors per model call (OpenAI client backoff: 0.5 s doubling, max 8 s)."""

DEFAULT_TIMEOUT = 120.0
"""Write and pool timeout in seconds for remote models; caps the connect and read timeouts."""

_OTHER_PROVIDERS = frozenset(
    {
        "anthropic", "azure_openai", "azure_ai", "bedrock", "bedrock_converse", "cohere",
        "deepseek", "fireworks", "google_anthropic_vertex", "google_genai", "google_vertexai",
        "groq", "huggingface", "ibm", "mistralai", "nvidia", "ollama", "perplexity",
        "together", "upstage", "xai",
    }
)  # fmt: skip


def parse_model_string(value: str) -> tuple[str, str]:
    """Split a model string into ``(provider, name)``.

    Args:
        value: ``"local"``, ``"local:<size>"``, ``"openai:<name>"`` or a bare model name.

    Returns:
        ``("local", size)`` with size ``"1.5b"`` or ``"0.5b"``, or ``("openai", name)``.

    Raises:
        ModelResolutionError: Empty string, unknown local size, empty name, or a provider
            prefix other than ``openai``/``local``.

    """
    text = value.strip()
    if not text:
        raise ModelResolutionError("empty model string")
    head, sep, tail = text.partition(":")
    provider = head.strip().lower()
    if provider == "local":
        size = tail.strip().lower() if sep else "1.5b"
        if size not in ("1.5b", "0.5b"):
            raise ModelResolutionError(
                f"unknown local model {text!r}: use 'local', 'local:1.5b' or 'local:0.5b'"
            )
        return "local", size
    if sep and provider == "python":
        if ":" not in tail.strip(" :"):
            raise ModelResolutionError(
                f"model string {text!r}: use 'python:package.module:attr'")
        return "python", tail.strip()
    if sep and provider == "openai":
        name = tail.strip()
        if not name:
            raise ModelResolutionError(f"model string {text!r} has no model name")
        return "openai", name
    if sep and provider in _OTHER_PROVIDERS:
        raise ModelResolutionError(
            f"model string {text!r}: provider {provider!r} is not built in; only 'openai:NAME' "
            "(any OpenAI-compatible endpoint via OPENAI_BASE_URL) and 'local' are. Pass a "
            "BaseChatModel instance as Agent.model instead"
        )
    return "openai", text


@overload
def _env_number(name: str, default: float) -> float: ...
@overload
def _env_number(name: str, default: None) -> float | None: ...
def _env_number(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ModelResolutionError(f"{name}={raw!r} is not a number") from None
    if number < 0:
        raise ModelResolutionError(f"{name}={raw!r} must not be negative")
    return number


def openai_chat_model(name: str, **kwargs: Any) -> ChatOpenAI:
    """Build an :class:`EndpointChatOpenAI` for ``name`` from the environment (no request).

    Reads ``OPENAI_BASE_URL`` (or ``OPENAI_API_BASE``), ``OPENAI_API_KEY`` and the timeout and
    retry variables of the module doc. Requests stream (``streaming=True``, with usage).

    Args:
        name: Model name sent to the endpoint.
        **kwargs: More ``ChatOpenAI`` fields (override the defaults).

    Returns:
        The configured model.

    Raises:
        ModelResolutionError: No API key and no base URL, or a malformed number variable.

    """
    base_url = (
        os.environ.get("OPENAI_BASE_URL", "").strip()
        or os.environ.get("OPENAI_API_BASE", "").strip()
        or None
    )
    api_key = os.environ.get("OPENAI_API_KEY", "").strip() or None
    if api_key is None:
        if base_url is None:
            raise ModelResolutionError(
                f"model {name!r} needs an OpenAI-compatible endpoint: set OPENAI_API_KEY "
                "(and OPENAI_BASE_URL for a non-OpenAI endpoint), or use model 'local'"
            )
        api_key = "not-needed"
    timeout = endpoint_timeout(
        _env_number("SUBAGENTS_MODEL_TIMEOUT", DEFAULT_TIMEOUT),
        connect=_env_number("SUBAGENTS_MODEL_CONNECT_TIMEOUT", None),
        read=_env_number("SUBAGENTS_MODEL_READ_TIMEOUT", None),
    )
    options: dict[str, Any] = {
        "model": name,
        "api_key": api_key,
        "base_url": base_url,
        "max_retries": int(_env_number("SUBAGENTS_MODEL_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
        "timeout": timeout,
        "stream_chunk_timeout": timeout.read,
        "streaming": True,
        "stream_usage": True,
    }
    options.update(kwargs)
    return EndpointChatOpenAI(**options)


def model_from_string(value: str) -> BaseChatModel:
    """Build the chat model a model string names (see :func:`parse_model_string`).

    Args:
        value: The model string.

    Returns:
        A ``ChatOpenAI``, or a :class:`subagents.local.LocalChatModel` (its server is
        started now) for ``"local..."``.

    Raises:
        ModelResolutionError: The string is invalid or the endpoint is not configured.
        LocalModelError: The embedded server cannot start.

    """
    provider, name = parse_model_string(value)
    if provider == "local":
        return _local_model(name)
    if provider == "python":
        return _python_model(name)
    return openai_chat_model(name)


def _python_model(ref: str) -> BaseChatModel:
    module_name, _, attr = ref.rpartition(":")
    try:
        obj: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelResolutionError(f"cannot import model 'python:{ref}': {exc}") from exc
    if not isinstance(obj, BaseChatModel) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:  # a factory that fails: say which, with its error
            msg = (f"model factory 'python:{ref}' raised {type(exc).__name__}: {exc} (it is "
                   "called with no arguments and must return a BaseChatModel)")
            raise ModelResolutionError(msg) from exc
    if not isinstance(obj, BaseChatModel):
        raise ModelResolutionError(f"'python:{ref}' is not a BaseChatModel: {obj!r}")
    return obj


def _local_model(size: str) -> BaseChatModel:
    return local.local_chat_model(size)


def _unwrap(model: object) -> object:
    seen = 0
    while isinstance(model, RunnableBinding) and seen < 16:
        model = model.bound
        seen += 1
    return model


def is_local_model(model: object) -> bool:
    """Whether ``model`` (or the model under a ``bind``/``bind_tools`` wrapper) is embedded.

    The runtime binds tools to local models with ``parallel_tool_calls=False``.

    Args:
        model: A chat model or a runnable binding of one.

    Returns:
        True for a :class:`subagents.local.LocalChatModel`, or a ``ChatOpenAI`` whose base
        URL is a server started by ``subagents.local`` in this process.

    """
    inner = _unwrap(model)
    if isinstance(inner, local.LocalChatModel):
        return True
    if isinstance(inner, ChatOpenAI) and inner.openai_api_base:
        base = inner.openai_api_base.rstrip("/")
        return any(base == s.base_url for s in local.running_servers() if s.port is not None)
    return False


def _describe(agent_name: str | None) -> str:
    return f"agent {agent_name!r}: " if agent_name else ""


def resolve_model(
    spec_model: BaseChatModel | str | None,
    *,
    cli_model: BaseChatModel | str | None = None,
    fallback: BaseChatModel | None = None,
    agent_name: str | None = None,
) -> BaseChatModel:
    """Resolve the chat model of one agent.

    Order: ``spec_model``, ``cli_model``, ``$SUBAGENTS_MODEL``, ``fallback``, the embedded
    local model. Empty or whitespace strings count as unset for ``cli_model`` and the
    environment variable; an empty ``spec_model`` string is an error.

    Args:
        spec_model: The agent's ``model`` field.
        cli_model: The ``--model`` command-line value, if any.
        fallback: The parent's resolved model (None for the root agent).
        agent_name: Used in error messages only.

    Returns:
        A chat model supporting ``bind_tools``.

    Raises:
        ModelResolutionError: A string is invalid, an endpoint is not configured, or
            ``spec_model`` has an unsupported type. The message says which source failed.
        LocalModelError: The embedded local model was chosen and cannot start.

    """
    sources: list[tuple[str, BaseChatModel | str | None]] = [
        ("model", spec_model),
        ("--model", cli_model),
        (ENV_MODEL, os.environ.get(ENV_MODEL)),
    ]
    for source, value in sources:
        if value is None:
            continue
        if isinstance(value, BaseChatModel):
            return value
        if not isinstance(value, str):
            raise ModelResolutionError(
                f"{_describe(agent_name)}{source}: expected a BaseChatModel or a model "
                f"string, got {type(value).__name__}"
            )
        if not value.strip() and source != "model":
            continue
        try:
            return model_from_string(value)
        except ModelResolutionError as exc:
            raise ModelResolutionError(f"{_describe(agent_name)}{source}: {exc}") from exc
    if fallback is not None:
        return fallback
    return _local_model("1.5b")
