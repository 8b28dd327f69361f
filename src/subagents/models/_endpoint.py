"""OpenAI-compatible endpoints that fail fast and say where.

:class:`EndpointChatOpenAI` is a ``ChatOpenAI`` whose connection failures and timeouts (after
the OpenAI client's own retries) are raised as :class:`~subagents.errors.ModelEndpointError`
naming the base URL, the model, the calling agent (its ``lc_agent_name`` run metadata) and the
number of tries.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import ensure_config
from langchain_openai import ChatOpenAI

from subagents.errors import ModelEndpointError

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "EndpointChatOpenAI",
           "endpoint_timeout"]

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection to a remote model endpoint."""

DEFAULT_READ_TIMEOUT = 12.0
"""Seconds a remote endpoint may send nothing (streaming: the first token, between chunks)."""


def endpoint_timeout(total: float, *, connect: float | None = None,
                     read: float | None = None) -> Any:
    """The HTTP timeouts of a remote model (seconds).

    Args:
        total: write and pool timeout; the cap of ``connect``/``read`` when they are None.
        connect: seconds to connect (None: ``min(DEFAULT_CONNECT_TIMEOUT, total)``).
        read: seconds without a byte (None: ``min(DEFAULT_READ_TIMEOUT, total)``).

    Returns:
        An ``openai.Timeout`` for ``ChatOpenAI(timeout=...)``: the timeout type of the HTTP
        library the installed ``openai`` uses (``httpx.Timeout`` up to openai 2,
        ``httpx2.Timeout`` from openai 3), which is the only one its client accepts.
    """
    return openai.Timeout(
        total,
        connect=min(DEFAULT_CONNECT_TIMEOUT, total) if connect is None else connect,
        read=min(DEFAULT_READ_TIMEOUT, total) if read is None else read,
    )


def _http_errors(name: str) -> tuple[type[Exception], ...]:
    """``(TransportError, TimeoutException)`` of HTTP library ``name``; none when absent."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return ()
    return module.TransportError, module.TimeoutException


_TRANSPORT: tuple[type[Exception], ...] = (*_http_errors("httpx"), *_http_errors("httpx2"))
"""The transport errors (and timeouts) of ``httpx`` and ``httpx2``: openai up to 2 uses the
first, openai 3 the second; both may be installed."""

_DID_NOT_ANSWER: tuple[type[Exception], ...] = (openai.APIConnectionError, *_TRANSPORT,
                                                 TimeoutError)
"""Connection refused or reset, timeouts (``APITimeoutError`` is an ``APIConnectionError``);
HTTP transport errors raised while a stream is read, after the response began; ``ChatOpenAI``'s
``stream_chunk_timeout`` (a ``TimeoutError``: no chunk for that long, keepalives aside)."""

_TIMED_OUT: tuple[type[Exception], ...] = (openai.APITimeoutError, *_TRANSPORT[1::2],
                                            TimeoutError)
"""The errors of :data:`_DID_NOT_ANSWER` that are timeouts."""


def _agent_name(run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
                ) -> str | None:
    """The calling agent (``lc_agent_name`` metadata) from the run manager or the run's config.

    ``ChatOpenAI`` streams without handing its run manager on, so the config of the calling
    run (LangChain's context variable) is the fallback.
    """
    meta = run_manager.metadata if run_manager is not None else {}
    name = meta.get("lc_agent_name") or ensure_config().get("metadata", {}).get("lc_agent_name")
    return str(name) if name else None


class EndpointChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` raising :class:`ModelEndpointError` when its endpoint does not answer.

    Connection errors and timeouts that remain after ``max_retries`` retries (a stream that
    stalls after its first bytes is not retried: its tokens were already delivered) become
    ``ModelEndpointError`` (a ``RuntimeError``); HTTP errors with a status (401, 404, 500 after
    its retries) keep their ``openai`` type. Everything else is ``ChatOpenAI``.
    """

    def _fail(self, exc: Exception,
              run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
              ) -> ModelEndpointError:
        agent = _agent_name(run_manager)
        who = f"agent {agent!r}: " if agent else ""
        what = "timed out" if isinstance(exc, _TIMED_OUT) else "could not connect"
        timeout = self.request_timeout
        limits = (f"connect timeout {timeout.connect} s, read timeout {timeout.read} s; "
                  if isinstance(timeout, openai.Timeout) else "")
        tries = (self.max_retries or 0) + 1
        msg = (f"{who}model endpoint {self.openai_api_base or 'https://api.openai.com/v1'} "
               f"(model {self.model_name!r}) {what} after {tries} tries: "
               f"{str(exc).rstrip('.') or type(exc).__name__}. {limits}check the server, "
               "OPENAI_BASE_URL or SUBAGENTS_MODEL_READ_TIMEOUT")
        return ModelEndpointError(msg)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        except _DID_NOT_ANSWER as exc:
            raise self._fail(exc, run_manager) from exc

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        try:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        except _DID_NOT_ANSWER as exc:
            raise self._fail(exc, run_manager) from exc

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(messages, stop, run_manager, **kwargs)
        except _DID_NOT_ANSWER as exc:
            raise self._fail(exc, run_manager) from exc

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
        except _DID_NOT_ANSWER as exc:
            raise self._fail(exc, run_manager) from exc
