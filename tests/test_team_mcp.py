"""Team files: ``mcp_servers:`` and ``server.tool`` entries, with a real stdio MCP server.

The server (``tests/fakes/mcp_server.py``, the ``mcp`` SDK) is started by the loader to list
its tools and once per tool call. A team's sub-agent calls the tools it lists; one it does not
list gets ``forbidden_tool``; an MCP error is an error tool result naming the server; a server
that fails to start at load, an unknown tool or server and a malformed entry are
``TeamFileError``s at their lines; ``trusted=False`` refuses ``command`` servers. The same
server also runs in-process as a streamable HTTP server for a ``url`` entry.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from fakes.mcp_server import server as calc_server
from subagents import Agent, compile_agent
from subagents.errors import TeamFileError
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

SERVER = Path(__file__).parent / "fakes" / "mcp_server.py"
BOUND = 120.0  # seconds: only stops a hung test, a run takes about a second per call
CALC = f"""\
mcp_servers:
  calc:
    command: {json.dumps(sys.executable)}
    args: [{json.dumps(str(SERVER))}]
    start_timeout: 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, **kwargs: Any) -> TeamFileError:
    with pytest.raises(TeamFileError) as info:
        load_team(write(tmp_path, text), root=tmp_path, **kwargs)
    return info.value


def delegating(*calls: tuple[str, dict[str, Any]]) -> ScriptedChatModel:
    """``lead`` delegates once and answers with the result; ``worker`` makes ``calls`` in
    turn, then answers with every tool result it read (status and text)."""

    def policy(messages: list[Any], agent: str | None) -> AIMessage:
        done = [m for m in messages if isinstance(m, ToolMessage)]
        if agent == "lead":
            return ai(call("task", agent="worker", objective="compute")) if not done else ai(
                str(done[0].content))
        if len(done) < len(calls):
            name, args = calls[len(done)]
            return ai(call(name, **args))
        return ai(" | ".join(f"{m.status}: {m.content}" for m in done))

    return ScriptedChatModel(policy=policy)


TEAM = CALC + """\
agents:
  - name: lead
    subagents: [worker]
  - name: worker
    description: Computes with the calc server.
    tools: [calc.add, calc.divide]
"""


async def test_a_team_agent_uses_its_mcp_tools_and_only_those(tmp_path: Path) -> None:
    lead = load_team(write(tmp_path, TEAM), root=tmp_path)
    worker = lead.subagents[0]
    assert isinstance(worker, Agent)
    assert [t.name for t in worker.tools] == ["add", "divide"]
    assert all(t.metadata and t.metadata["mcp_server"] == "calc" for t in worker.tools)
    model = delegating(("add", {"a": 2, "b": 3}), ("divide", {"a": 1, "b": 0}), ("crash", {}),
                       ("add", {"a": 1, "b": 1}))
    graph = compile_agent(lead.model_copy(update={"model": model}))
    out = await asyncio.wait_for(graph.ainvoke({"messages": [HumanMessage("go")]}), BOUND)
    result = json.loads(out["messages"][-1].content)
    assert result["status"] == "completed"
    add, divide, crash, again = result["result"].split(" | ")
    assert add == "success: 5"
    assert divide.startswith("error: MCP server 'calc': ") and "division by zero" in divide
    assert "forbidden_tool" in crash and "available tools: add, divide" in crash
    assert again == "success: 2"  # crash never ran: the next call still works


def test_mcp_tools_run_in_sync_invoke_too(tmp_path: Path) -> None:
    lead = load_team(write(tmp_path, TEAM), root=tmp_path)
    worker = lead.subagents[0]
    assert isinstance(worker, Agent)
    assert worker.tools[0].invoke({"a": 20, "b": 22}) == "42"


def test_a_server_that_fails_to_start_names_the_server_and_its_line(tmp_path: Path) -> None:
    exc = load_error(tmp_path, """\
        mcp_servers:
          calc:
            command: /nonexistent/mcp-server
        agents:
          - name: dev
            tools: [calc.add]
        """)
    assert exc.line == 2
    assert "MCP server 'calc' failed to start or list its tools within 30.0 s" in str(exc)
    assert "needed by agent 'dev' at" in str(exc) and "team.yaml:6" in str(exc)
    exits = load_error(tmp_path, f"""\
        mcp_servers:
          quits:
            command: {json.dumps(sys.executable)}
            args: ["-c", "import sys; sys.exit(2)"]
        agents:
          - name: dev
            tools: [quits.anything]
        """)
    assert exits.line == 2 and "MCP server 'quits' failed to start" in str(exits)


def test_a_server_no_agent_names_is_never_started(tmp_path: Path) -> None:
    dev = load_team(write(tmp_path, """\
        mcp_servers:
          ghost: {command: /nonexistent/mcp-server}
        agents:
          - {name: dev, tools: [grep]}
        """), root=tmp_path)
    assert [t.name for t in dev.tools] == ["grep"]


@pytest.mark.parametrize(("tools", "line", "message"), [
    ("[calc.nope]", 8, "agent 'dev': MCP server 'calc' has no tool 'nope' (valid: add, crash, "
                       "divide, hang)"),
    ("[grep, calk.add]", 8, "agent 'dev': tool 'calk.add': no MCP server 'calk' under "
                            "'mcp_servers' (valid: calc); did you mean 'calc'?"),
])
def test_unknown_mcp_tools_and_servers_name_the_line(tmp_path: Path, tools: str, line: int,
                                                     message: str) -> None:
    exc = load_error(tmp_path, CALC + f"agents:\n  - name: dev\n    tools: {tools}\n")
    assert exc.line == line and str(exc).endswith(f":{line}: {message}"), str(exc)


@pytest.mark.parametrize(("servers", "line", "message"), [
    ("mcp_servers: [calc]", 1, "'mcp_servers' must be a mapping"),
    ("mcp_servers:\n  calc: python", 2, "MCP server 'calc' must be a mapping"),
    ("mcp_servers:\n  c.d: {url: 'http://x'}", 2, "MCP server name 'c.d': use letters"),
    ("mcp_servers:\n  calc: {args: []}", 2, "needs either 'command' (stdio) or 'url'"),
    ("mcp_servers:\n  calc: {command: x, url: 'http://x'}", 2, "not both"),
    ("mcp_servers:\n  calc:\n    command: x\n    arg: [y]", 4,
     "MCP server 'calc': unknown field 'arg' (valid: command, args, env, cwd, url, headers, "
     "start_timeout, call_timeout); did you mean 'args'?"),
    ("mcp_servers:\n  calc:\n    command: x\n    args: y", 4,
     "field 'args' must be a list of strings"),
    ("mcp_servers:\n  calc:\n    command: x\n    env: {N: 1}", 4,
     "field 'env' must be a mapping of strings to strings"),
    ("mcp_servers:\n  calc:\n    url: ftp://x", 3, "field 'url' must be an http:// or https://"),
    ("mcp_servers:\n  calc:\n    url: http://x\n    cwd: /", 4,
     "field 'cwd' applies to 'command' (stdio) servers only"),
    ("mcp_servers:\n  calc:\n    command: x\n    headers: {a: b}", 4,
     "field 'headers' applies to 'url' servers only"),
    ("mcp_servers:\n  calc:\n    command: x\n    call_timeout: 0", 4,
     "field 'call_timeout' must be a positive number of seconds, at most 3,600, got 0"),
    ("mcp_servers:\n  calc:\n    url: http://x\n    start_timeout: .inf", 4,
     "field 'start_timeout' must be a positive number of seconds, at most 3,600, got inf"),
    ("mcp_servers:\n  calc:\n    command: x\n    call_timeout: 1.0e+300", 4,
     "field 'call_timeout' must be a positive number of seconds, at most 3,600, got 1e+300"),
])
def test_malformed_servers_name_the_line(tmp_path: Path, servers: str, line: int,
                                         message: str) -> None:
    exc = load_error(tmp_path, servers + "\nagents:\n  - name: dev\n")
    assert exc.line == line and message in str(exc), str(exc)


def test_untrusted_files_hold_a_load_or_a_call_two_minutes_at_most(tmp_path: Path) -> None:
    for key in ("start_timeout", "call_timeout"):
        servers = f"mcp_servers:\n  calc:\n    url: http://127.0.0.1:1/mcp\n    {key}: 3600\n"
        exc = load_error(tmp_path, servers + "agents:\n  - name: dev\n", trusted=False)
        assert exc.line == 4
        assert f"field '{key}' may be at most 120 seconds in an untrusted team file" in str(exc)


def test_untrusted_files_refuse_command_servers_but_not_urls(tmp_path: Path) -> None:
    exc = load_error(tmp_path, CALC + "agents:\n  - name: dev\n", trusted=False)
    assert exc.line == 3
    assert "MCP server 'calc': field 'command' starts a program, refused in an untrusted" \
        in str(exc)
    dev = load_team(write(tmp_path, "mcp_servers:\n  web: {url: 'http://127.0.0.1:9/mcp'}\n"
                                    "agents:\n  - name: dev\n"), root=tmp_path, trusted=False)
    assert list(dev.tools) == []


async def test_a_dead_server_restarts_on_the_next_call_and_a_hung_call_times_out(
        tmp_path: Path) -> None:
    team = CALC + ("    call_timeout: 5\n"
                   "agents:\n"
                   "  - {name: lead, subagents: [worker]}\n"
                   "  - {name: worker, tools: [calc.crash, calc.add, calc.hang]}\n")
    lead = load_team(write(tmp_path, team), root=tmp_path)
    model = delegating(("crash", {}), ("add", {"a": 1, "b": 2}), ("hang", {}))
    graph = compile_agent(lead.model_copy(update={"model": model}))
    out = await asyncio.wait_for(graph.ainvoke({"messages": [HumanMessage("go")]}), BOUND)
    crash, add, hang = json.loads(out["messages"][-1].content)["result"].split(" | ")
    assert crash.startswith("error: MCP server 'calc': tool 'crash' failed")
    assert add == "success: 3"  # a fresh session (and process) per call
    assert hang == "error: MCP server 'calc': tool 'hang' timed out after 5.0 s"


def test_a_streamable_http_server_by_url(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # bound and listening before the server runs: clients queue, no wait needed
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(calc_server.streamable_http_app(), log_level="warning"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        dev = load_team(write(tmp_path, f"""\
            mcp_servers:
              calc: {{url: "http://127.0.0.1:{port}/mcp", headers: {{X-Test: "1"}}}}
            agents:
              - {{name: dev, tools: [calc.add, calc.divide]}}
            """), root=tmp_path, trusted=False)
        add, divide = dev.tools
        assert add.invoke({"a": 40, "b": 2}) == "42"
        assert "MCP server 'calc': " in divide.invoke({"a": 1, "b": 0})
    finally:
        web.should_exit = True
        thread.join(BOUND)
        sock.close()
