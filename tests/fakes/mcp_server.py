"""A small MCP server (the ``mcp`` SDK's FastMCP, stdio) for the MCP tool tests."""

from __future__ import annotations

import asyncio
import os

from mcp.server.fastmcp import FastMCP

server = FastMCP("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@server.tool()
def crash() -> str:
    """Kill the server process (a server dying mid-run)."""
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answer."""
    await asyncio.Event().wait()
    return "never"


if __name__ == "__main__":
    server.run("stdio")
