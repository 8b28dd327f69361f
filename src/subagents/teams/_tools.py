"""The ``tools:`` entries of a team file and its top-level ``mcp_servers:``.

An entry of an agent's ``tools:`` list is one of:

- a built-in name (``grep``, ``find``, ``read_file``, ``list_files``:
  ``subagents.tools.BUILTIN_TOOLS``), confined to the team's root folder;
- an import path ``"package.module:attr"`` (``attr`` may be dotted): a ``BaseTool`` is used
  as it is, a plain function (sync or async) becomes a tool named after it whose description
  is its docstring;
- ``"server.tool"``: the tool ``tool`` of the server ``server`` declared under
  ``mcp_servers:``. An agent gets only the MCP tools it lists, like any tool.

``mcp_servers:`` maps a server name to ``{command, args, env, cwd}`` (stdio: the program is
started for the server; ``env`` is added to the MCP SDK's small default environment) or
``{url, headers}`` (streamable HTTP), each optionally with ``start_timeout`` (seconds to start
and list the tools, default 30) and ``call_timeout`` (seconds per tool call, session start
included, default 60).

A team file is loaded synchronously with no run open, so its MCP tools hold no session: each
call opens its own (``langchain-mcp-adapters``' session-per-call tools) and closes it when the
call ends. The cost: a stdio server's program starts once per tool call (an HTTP server gets
one handshake per call). In return a server that died is started afresh by the next call,
nothing is left to close, and the tools work in any event loop and in sync ``invoke`` runs.
For a long-lived session use ``subagents.tools.mcp.mcp_tools`` in Python. A server's tools
are listed once, when the file is loaded, and only for servers an agent names.

Import paths and stdio ``command``s run code: a file loaded with ``trusted=False`` may use
neither.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from langchain_core.tools import BaseTool, tool
from langchain_mcp_adapters.sessions import Connection
from langchain_mcp_adapters.tools import load_mcp_tools

from subagents.errors import TeamFileError
from subagents.teams._located import Key, Source
from subagents.tools import BUILTIN_TOOLS, builtin_tool
from subagents.tools.mcp import bounded, in_worker_thread

__all__ = ["MAX_MCP_SECONDS", "MAX_UNTRUSTED_MCP_SECONDS", "SERVER_FIELDS", "TeamTools"]

MAX_MCP_SECONDS = 3600
"""The longest ``start_timeout`` / ``call_timeout`` of an MCP server in a team file (seconds)."""
MAX_UNTRUSTED_MCP_SECONDS = 120
"""The same in a team file loaded with ``trusted=False`` (``--untrusted``): a server the file
names cannot hold the load or a call longer (the defaults, 30 and 60 s, are within it)."""

SERVER_FIELDS = ("command", "args", "env", "cwd", "url", "headers", "start_timeout",
                 "call_timeout")
"""Fields of one ``mcp_servers:`` entry."""
_STDIO_ONLY = ("args", "env", "cwd")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNTRUSTED = ("refused in an untrusted team file (load it with trusted=True only if you trust "
              "its source)")


@dataclass
class _Server:
    name: str
    connection: Connection
    start_timeout: float = 30.0
    call_timeout: float = 60.0
    tools: dict[str, BaseTool] | None = None


def _suggest(word: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(word, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (valid: {', '.join(valid) or 'none'}){hint}"


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


class TeamTools:
    """Resolves the ``tools:`` entries of one team file (checked once, built per agent).

    Args:
        servers: the file's ``mcp_servers:`` value (None: no servers).
        source: the file's line map, for errors.
        root: the folder built-in tools are confined to.
        trusted: False refuses import paths and stdio servers (both run code).

    Raises:
        TeamFileError: ``mcp_servers`` is malformed (at the line of the bad field).
    """

    def __init__(self, servers: Any, source: Source, root: Path, trusted: bool) -> None:
        self.source = source
        self.root = root
        self.trusted = trusted
        self.servers = self._servers(servers)
        self.resolved: dict[str, BaseTool] = {}

    def _fail(self, path: tuple[Key, ...], message: str, agent: str | None = None
              ) -> TeamFileError:
        prefix = f"agent {agent!r}: " if agent is not None else ""
        return self.source.error(path, prefix + message)

    # ------------------------------------------------------------------ agents' entries

    def check(self, entries: list[str], at: tuple[Key, ...], agent: str) -> None:
        """Resolve every entry that is not a built-in (imports, MCP listing), once.

        Args:
            entries: the agent's ``tools:`` list.
            at: the path of that list in the file (``("agents", 2, "tools")``).
            agent: the agent's name, for messages.

        Raises:
            TeamFileError: an unknown name, an import that fails, an object that is no tool,
                an undeclared server or tool, a server that fails to start (at its line), a
                refused import path (``trusted=False``).
        """
        for i, entry in enumerate(entries):
            if entry not in BUILTIN_TOOLS and entry not in self.resolved:
                self.resolved[entry] = self._resolve(entry, (*at, i), agent)

    def build(self, entries: list[str], max_files: int | None = None) -> list[BaseTool]:
        """The tools of one agent, in order.

        Built-ins are built afresh for ``root``, their walks capped at ``max_files`` entries
        when given.
        """
        return [(builtin_tool(e, self.root) if max_files is None
                 else builtin_tool(e, self.root, max_files)) if e in BUILTIN_TOOLS
                else self.resolved[e] for e in entries]

    def _resolve(self, entry: str, at: tuple[Key, ...], agent: str) -> BaseTool:
        if ":" in entry:
            return self._import(entry, at, agent)
        server, dot, name = entry.partition(".")
        if dot and server in self.servers:
            return self._mcp(self.servers[server], name, at, agent)
        if dot and self.servers:
            raise self._fail(at, f"tool {entry!r}: no MCP server {server!r} under "
                             f"'mcp_servers'" + _suggest(server, sorted(self.servers)), agent)
        hint = (" (an import path is 'package.module:attr'; an MCP tool is 'server.tool' of "
                "a server under 'mcp_servers')") if dot else ""
        raise self._fail(at, f"unknown tool {entry!r}" + _suggest(entry, sorted(BUILTIN_TOOLS))
                         + hint, agent)

    # ------------------------------------------------------------------ import paths

    def _import(self, entry: str, at: tuple[Key, ...], agent: str) -> BaseTool:
        if not self.trusted:
            raise self._fail(at, f"tool {entry!r} imports and runs Python code, {_UNTRUSTED}",
                             agent)
        module_name, _, attr = entry.partition(":")
        if not module_name or not attr or ":" in attr:
            raise self._fail(at, f"tool {entry!r}: an import path is 'package.module:attr'",
                             agent)
        try:
            found: Any = importlib.import_module(module_name)
        except Exception as exc:
            raise self._fail(at, f"tool {entry!r}: cannot import {module_name!r}: "
                             f"{_reason(exc)}", agent) from None
        for part in attr.split("."):
            if not hasattr(found, part):
                raise self._fail(at, f"tool {entry!r}: module {module_name!r} has no attribute "
                                 f"{attr!r}", agent)
            found = getattr(found, part)
        return self._as_tool(found, entry, at, agent)

    def _as_tool(self, found: Any, entry: str, at: tuple[Key, ...], agent: str) -> BaseTool:
        if isinstance(found, BaseTool):
            return found
        if not (inspect.isfunction(found) or inspect.ismethod(found)):
            raise self._fail(at, f"tool {entry!r} is a {type(found).__name__}, not a tool (a "
                             "langchain BaseTool) or a function", agent)
        if not inspect.getdoc(found):
            raise self._fail(at, f"tool {entry!r}: function {found.__name__!r} has no "
                             "docstring (it is the tool's description the model reads)", agent)
        try:
            return tool(found)
        except Exception as exc:  # langchain cannot infer its arguments' schema
            raise self._fail(at, f"tool {entry!r}: cannot make a tool of it: {_reason(exc)}",
                             agent) from None

    # ------------------------------------------------------------------ MCP servers

    def _mcp(self, server: _Server, name: str, at: tuple[Key, ...], agent: str) -> BaseTool:
        if server.tools is None:
            server.tools = self._list(server, at, agent)
        found = server.tools.get(name)
        if found is None:
            raise self._fail(at, f"MCP server {server.name!r} has no tool {name!r}"
                             + _suggest(name, sorted(server.tools)), agent)
        return found

    def _list(self, server: _Server, at: tuple[Key, ...], agent: str) -> dict[str, BaseTool]:
        async def listing() -> list[BaseTool]:
            async with asyncio.timeout(server.start_timeout):
                return await load_mcp_tools(None, connection=server.connection,
                                            server_name=server.name, handle_tool_errors=False)

        try:
            loaded = in_worker_thread(listing())
        except Exception as exc:
            raise self._fail(("mcp_servers", server.name), f"MCP server {server.name!r} "
                             f"failed to start or list its tools within {server.start_timeout} "
                             f"s: {_reason(exc)} (needed by agent {agent!r} at "
                             f"{self.source.at(*at)})") from None
        return {t.name: bounded(t, server.name, server.call_timeout, sync=True) for t in loaded}

    def _servers(self, data: Any) -> dict[str, _Server]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise self._fail(("mcp_servers",), "'mcp_servers' must be a mapping: server name "
                             "-> {command, args} (stdio) or {url} (streamable HTTP)")
        return {str(name): self._server(name, spec) for name, spec in data.items()}

    def _server(self, name: Any, spec: Any) -> _Server:
        at: tuple[Key, ...] = ("mcp_servers", str(name))
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise self._fail(at, f"MCP server name {name!r}: use letters, digits, '_' or '-' "
                             "(agents name its tools 'server.tool')")
        if not isinstance(spec, Mapping):
            raise self._fail(at, f"MCP server {name!r} must be a mapping with 'command' "
                             f"(stdio) or 'url' (streamable HTTP), got {type(spec).__name__}")
        for key in spec:
            if key not in SERVER_FIELDS:
                raise self._fail((*at, str(key)), f"MCP server {name!r}: unknown field {key!r}"
                                 + _suggest(str(key), list(SERVER_FIELDS)))
        if ("command" in spec) == ("url" in spec):
            raise self._fail(at, f"MCP server {name!r} needs either 'command' (stdio) or "
                             "'url' (streamable HTTP), not both")
        fields = _ServerFields(self, name, spec, at)
        server = _Server(name, fields.connection())
        server.start_timeout = fields.seconds("start_timeout", server.start_timeout)
        server.call_timeout = fields.seconds("call_timeout", server.call_timeout)
        return server


@dataclass
class _ServerFields:
    """Type checks of one ``mcp_servers`` entry's fields, failing at their lines."""

    owner: TeamTools
    name: str
    spec: Mapping[str, Any]
    at: tuple[Key, ...]

    def _fail(self, key: str, message: str) -> TeamFileError:
        return self.owner._fail((*self.at, key), f"MCP server {self.name!r}: field {key!r} "
                                + message)

    def _text(self, key: str) -> str:
        value = self.spec[key]
        if not isinstance(value, str) or not value:
            raise self._fail(key, "must be a non-empty string")
        return value

    def _strings(self, key: str) -> dict[str, str]:
        value = self.spec[key]
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self._fail(key, "must be a mapping of strings to strings (quote numbers)")
        return dict(value)

    def seconds(self, key: str, default: float) -> float:
        """A timeout in seconds: a number above 0 and at most ``MAX_MCP_SECONDS`` (finite).

        An infinite ``start_timeout`` would let a server that never answers its handshake
        hang the load; an untrusted file (``url`` servers are allowed there) may hold a load
        or a call for at most ``MAX_UNTRUSTED_MCP_SECONDS``.
        """
        value = self.spec.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not 0 < value <= MAX_MCP_SECONDS):
            raise self._fail(key, f"must be a positive number of seconds, at most "
                             f"{MAX_MCP_SECONDS:,}, got {value!r}")
        if not self.owner.trusted and value > MAX_UNTRUSTED_MCP_SECONDS:
            raise self._fail(key, f"may be at most {MAX_UNTRUSTED_MCP_SECONDS} seconds in an "
                             f"untrusted team file, got {value!r} (load it with trusted=True "
                             "only if you trust its source)")
        return float(value)

    def connection(self) -> Connection:
        if "url" in self.spec:
            return self._http()
        stray = [k for k in ("headers",) if k in self.spec]
        if stray:
            raise self._fail(stray[0], "applies to 'url' servers only")
        if not self.owner.trusted:
            raise self._fail("command", f"starts a program, {_UNTRUSTED}")
        args = self.spec.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise self._fail("args", "must be a list of strings")
        stdio: dict[str, Any] = {"transport": "stdio", "command": self._text("command"),
                                 "args": list(args)}
        if "env" in self.spec:
            stdio["env"] = self._strings("env")
        if "cwd" in self.spec:
            stdio["cwd"] = self._text("cwd")
        return cast(Connection, stdio)

    def _http(self) -> Connection:
        stray = [k for k in _STDIO_ONLY if k in self.spec]
        if stray:
            raise self._fail(stray[0], "applies to 'command' (stdio) servers only")
        url = self._text("url")
        if not url.startswith(("http://", "https://")):
            raise self._fail("url", f"must be an http:// or https:// URL, got {url!r}")
        http: dict[str, Any] = {"transport": "streamable_http", "url": url}
        if "headers" in self.spec:
            http["headers"] = self._strings("headers")
        return cast(Connection, http)
