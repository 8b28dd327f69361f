"""Tools from MCP servers (through ``langchain-mcp-adapters``), bounded and named.

``mcp_tools(servers)`` opens one session per server for the block and yields their tools as
LangChain tools to give an ``Agent`` (``Agent(tools=[...])``); allow lists apply to them as to
any tool (an agent can call only the tools it was given). Every failure names its server and
never hangs a run:

- a server that cannot start, or does not answer its handshake within ``start_timeout``
  seconds, raises :class:`MCPServerError` when the block opens;
Text content blocks reach the model as plain text.

- a tool that returns an MCP error, raises, or whose server died mid-run becomes an error
  tool result (``ToolException``: the agent's model reads it and goes on) that says which
  server failed;
- a call still running after ``call_timeout`` seconds is abandoned the same way.

MCP tools are async: agents that use them run with ``ainvoke``/``astream``. Install the
``mcp`` extra (``pip install 'langgraph-subagents[mcp]'``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.sessions import Connection
from langchain_mcp_adapters.tools import load_mcp_tools

from subagents.errors import MCPServerError

__all__ = ["MCPServerError", "bounded", "in_worker_thread", "mcp_tools"]

_T = TypeVar("_T")


def _text(content: Any) -> Any:
    """MCP content blocks as text (what a model reads best); other values unchanged."""
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        return "\n".join(str(b["text"]) if b.get("type") == "text" else str(b)
                         for b in content)
    return content


def in_worker_thread(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to its end on a fresh event loop in a worker thread.

    Works whether or not the calling thread runs an event loop (``asyncio.run`` cannot be
    called from one). The caller's thread blocks until the coroutine ends: bound it inside
    (``asyncio.timeout``).

    Returns:
        The coroutine's result; its exception is raised in the caller.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="subagents-mcp") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def bounded(tool: BaseTool, server: str, call_timeout: float, *,
            sync: bool = False) -> BaseTool:
    """``tool`` whose failures and overruns are ``ToolException``s naming ``server``.

    Args:
        tool: an MCP tool from ``langchain_mcp_adapters.tools.load_mcp_tools`` (async).
        server: the server's name, for messages and ``metadata["mcp_server"]``.
        call_timeout: seconds one call may take (session start included when the tool
            opens a session per call) before it is an error result.
        sync: also give the tool a sync function that runs the call on its own event
            loop in a worker thread: only for tools that open a session per call (a shared
            session belongs to the event loop that opened it).

    Returns:
        A ``StructuredTool`` with ``handle_tool_error=True``: the agent's model reads
        ``MCP server 'NAME': ...`` as an error tool result and goes on.
    """

    async def call(**kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(call_timeout):
                return _text(await tool.ainvoke(kwargs))
        except TimeoutError:
            msg = f"MCP server {server!r}: tool {tool.name!r} timed out after {call_timeout} s"
            raise ToolException(msg) from None
        except ToolException as exc:
            raise ToolException(f"MCP server {server!r}: {exc}") from exc
        except Exception as exc:  # transport errors: the server died or broke the protocol
            msg = (f"MCP server {server!r}: tool {tool.name!r} failed: "
                   f"{type(exc).__name__}: {exc}")
            raise ToolException(msg) from exc

    def call_sync(**kwargs: Any) -> Any:
        return in_worker_thread(call(**kwargs))

    return StructuredTool.from_function(
        func=call_sync if sync else None, coroutine=call, name=tool.name,
        description=tool.description, args_schema=tool.args_schema, handle_tool_error=True,
        metadata={**(tool.metadata or {}), "mcp_server": server})


def _wanted(names: Iterable[str] | None, server: str, tool: str) -> bool:
    return names is None or tool in names or f"{server}.{tool}" in names


@asynccontextmanager
async def mcp_tools(servers: Mapping[str, Connection], *, tools: Iterable[str] | None = None,
                    start_timeout: float = 30.0,
                    call_timeout: float = 60.0) -> AsyncIterator[list[BaseTool]]:
    """Open a session with each MCP server for the block and yield their tools.

    Args:
        servers: server name -> connection, as ``langchain-mcp-adapters`` takes them:
            ``{"transport": "stdio", "command": ..., "args": [...]}`` or
            ``{"transport": "streamable_http", "url": ...}``.
        tools: the tools to take, as ``"tool"`` or ``"server.tool"`` (None: all of them).
        start_timeout: seconds a server may take to start and complete its handshake.
        call_timeout: seconds one tool call may take before it is an error result.

    Yields:
        The selected tools, each with ``metadata["mcp_server"]``; sessions close (stdio
        servers stop) when the block ends.

    Raises:
        MCPServerError: a server failed to start or to list its tools (the message names it).
    """
    client = MultiServerMCPClient(dict(servers))
    wanted = None if tools is None else set(tools)
    selected: list[BaseTool] = []
    async with AsyncExitStack() as stack:
        for name in servers:
            try:
                async with asyncio.timeout(start_timeout):
                    session = await stack.enter_async_context(client.session(name))
                    loaded = await load_mcp_tools(session, server_name=name,
                                                  handle_tool_errors=False)
            except Exception as exc:
                msg = (f"MCP server {name!r} failed to start or list its tools within "
                       f"{start_timeout} s: {type(exc).__name__}: {exc}")
                raise MCPServerError(msg) from exc
            selected += [bounded(t, name, call_timeout) for t in loaded
                         if _wanted(wanted, name, t.name)]
        yield selected
