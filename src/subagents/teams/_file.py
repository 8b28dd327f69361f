"""The team file as pydantic models: the source of its JSON Schema and of the loader's fields.

``TeamFile.model_json_schema()`` is what ``subagents schema`` prints and what
``team.schema.json`` (beside this module) holds; ``AgentEntry``'s fields are the fields the
loader accepts (``subagents.teams.AGENT_FIELDS`` is derived from them). The loader does its
own checks, with line numbers; these models describe the file, they do not build agents.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from subagents.spec import MAX_RETRY_SECONDS, Agent
from subagents.spec.background import AwaitMode, BackgroundConfig
from subagents.spec.budget import Budget
from subagents.spec.first_call import FirstCall
from subagents.spec.guard import LoopGuard
from subagents.teams._tools import MAX_MCP_SECONDS
from subagents.tools import BUILTIN_CHECKS, BUILTIN_TOOLS, MAX_WALK_ENTRIES

__all__ = [
    "AGENT_RENAMES",
    "LOADER_ONLY",
    "AgentEntry",
    "BackgroundEntry",
    "McpHttpServer",
    "McpStdioServer",
    "RemoteEntry",
    "RetryEntry",
    "TeamFile",
    "team_json_schema",
]

AGENT_RENAMES: dict[str, str] = {"prompt": "system_prompt"}
"""Team-file field -> ``Agent`` field, where the names differ."""
LOADER_ONLY = frozenset({"max_files"})
"""Team-file fields with no ``Agent`` field (the loader uses them to build tools)."""
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
TOOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.]*)?$"

_FORBID = ConfigDict(extra="forbid")


def _doc(model: type[BaseModel], field: str, extra: str = "") -> str:
    text = model.model_fields[field].description or ""
    return f"{text} {extra}".strip()


class BackgroundEntry(BaseModel):
    """``background:`` settings (``BackgroundConfig``'s plain fields).

    ``deliver`` and ``dispatcher`` (detached children) are Python objects: set them in Python.
    """

    model_config = _FORBID

    max_concurrent: int | None = Field(
        None, ge=1, description=_doc(BackgroundConfig, "max_concurrent"))
    timeout: float | None = Field(None, gt=0, description=_doc(BackgroundConfig, "timeout"))
    auto_cancel: bool = Field(True, description=_doc(BackgroundConfig, "auto_cancel"))
    park_ttl: float = Field(3600.0, gt=0, description=_doc(BackgroundConfig, "park_ttl"))
    persist: bool | None = Field(None, description=_doc(BackgroundConfig, "persist"))
    tools: list[Literal["status", "cancel", "await", "message"]] = Field(
        ["status", "cancel", "await"], description=_doc(BackgroundConfig, "tools"))
    await_modes: list[AwaitMode] = Field(
        ["all", "allSettled", "any", "race"], description=_doc(BackgroundConfig, "await_modes"))


class RemoteEntry(BaseModel):
    """``remote:``: the agent is a graph served by a LangGraph server (``Agent.from_remote``).

    The API key comes from ``LANGGRAPH_API_KEY`` / ``LANGSMITH_API_KEY``, never from the file.
    """

    model_config = _FORBID

    url: str = Field(min_length=1, description="Base URL of the LangGraph server.")
    graph_id: str = Field(min_length=1, description="A graph id of the "
                          "server's langgraph.json, or an assistant id.")
    headers: dict[str, str] | None = Field(
        None, description="Extra HTTP headers for every request.")
    timeout: float | None = Field(
        None, gt=0, description="HTTP timeout of the server's client, in seconds (unset: the "
        "SDK's default).")
    configurable: dict[str, Any] | None = Field(
        None, description="Extra 'configurable' values sent with every run (primitives).")
    cancel_timeout: float = Field(
        5.0, gt=0, description="Seconds spent cancelling the remote run when the parent is "
        "cancelled.")


class RetryEntry(BaseModel):
    """``retry:``: LangGraph's ``RetryPolicy`` fields (``retry_on`` is Python-only)."""

    model_config = _FORBID

    max_attempts: int = Field(3, ge=1, description="Attempts in all, the first included.")
    initial_interval: float = Field(0.5, ge=0, le=MAX_RETRY_SECONDS,
                                    description="Seconds before the first retry (at most a day).")
    backoff_factor: float = Field(2.0, ge=1, le=MAX_RETRY_SECONDS,
                                  description="Multiplier of the interval per retry.")
    max_interval: float = Field(128.0, ge=0, le=MAX_RETRY_SECONDS,
                                description="Longest wait between attempts, in seconds (at most "
                                "a day).")
    jitter: bool = Field(True, description="Add random jitter to the waits.")


class McpStdioServer(BaseModel):
    """An MCP server started as a subprocess (stdio transport)."""

    model_config = _FORBID

    command: str = Field(min_length=1, description="Executable to start.")
    args: list[str] = Field([], description="Its arguments.")
    env: dict[str, str] | None = Field(None, description="Its environment (unset: inherited).")
    cwd: str | None = Field(None, description="Its working directory.")
    start_timeout: float = Field(30.0, gt=0, le=MAX_MCP_SECONDS,
                                 description="Seconds it may take to start and list its tools "
                                 "(at load; at most an hour).")
    call_timeout: float = Field(60.0, gt=0, le=MAX_MCP_SECONDS,
                                description="Seconds one tool call may take (a session per "
                                "call: the program starts every call; at most an hour).")


class McpHttpServer(BaseModel):
    """An MCP server reached over streamable HTTP."""

    model_config = _FORBID

    url: str = Field(min_length=1, description="The server's URL.")
    headers: dict[str, str] | None = Field(None, description="HTTP headers of every request.")
    start_timeout: float = Field(30.0, gt=0, le=MAX_MCP_SECONDS,
                                 description="Seconds it may take to answer and list its tools "
                                 "(at load; at most an hour).")
    call_timeout: float = Field(60.0, gt=0, le=MAX_MCP_SECONDS,
                                description="Seconds one tool call may take (at most an hour).")


CheckName = Literal["grounded", "paths_exist"]
"""A name of ``subagents.tools.BUILTIN_CHECKS`` (a test keeps the two equal)."""


class AgentEntry(BaseModel):
    """One agent of ``agents:``; ``prompt``/``system_prompt`` are two names of one field."""

    model_config = _FORBID

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$", description=_doc(Agent, "name"))
    description: str = Field("", description=_doc(Agent, "description"))
    prompt: str = Field("", description="The agent's system prompt (Agent.system_prompt).")
    system_prompt: str = Field(
        "", description="Same as 'prompt' (the Python name); give one of the two.")
    model: str | None = Field(
        None, description="A model string ('local', 'openai:NAME', 'python:module:attr', which "
        "imports code); unset: inherited from the parent.")
    tools: list[str] = Field(
        [], description="Tools it may call: a built-in name (" + ", ".join(sorted(BUILTIN_TOOLS))
        + "; confined to --root), 'package.module:attr' (a tool, a function or a list of them) "
        "or 'server.tool' of an mcp_servers entry.",
        json_schema_extra={"items": {"type": "string", "pattern": TOOL_PATTERN}})
    subagents: list[str] = Field(
        [], description="Allow list by agent name; itself or an ancestor makes a cycle, "
        "bounded by the depth limit.")
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema object (type: object, properties, required) of the "
        "answer it returns through final_answer.")
    input_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema object of its per-agent tool's arguments.")
    tool_name: str | None = Field(None, description="Override of 'task_<name>'.")
    tool_description: str | None = Field(None, description="Override of the tool text.")
    max_steps: int = Field(25, ge=1, description=_doc(Agent, "max_steps"))
    max_subagent_depth: int | None = Field(
        None, ge=0, description=_doc(Agent, "max_subagent_depth"))
    delegation: Literal["task", "per_agent"] = Field(
        "task", description=_doc(Agent, "delegation"))
    delegation_context: bool = Field(True, description=_doc(Agent, "delegation_context"))
    persistent: bool = Field(False, description=_doc(Agent, "persistent"))
    max_output_retries: int = Field(2, ge=0, description=_doc(Agent, "max_output_retries"))
    answer_check: CheckName | list[CheckName] | None = Field(
        None, description="A built-in answer check run on its text answers, or a list of "
        "them (all must accept): " + ", ".join(sorted(BUILTIN_CHECKS)) + ".")
    graph: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="An own graph as this agent (Agent.from_graph): 'package.module:attr', an "
        "attribute holding a compiled graph or Runnable, or a function returning one. "
        "Imported at load; refused in untrusted files.")
    tool_timeout: float | None = Field(
        None, gt=0, description="Seconds each call of its own tools may take (unset: no "
        "limit); a call still running then ends as an error tool result.")
    retry: RetryEntry | None = Field(
        None, description="Run a delegation to this agent again, as a fresh task, when it "
        "raises or ends 'failed' or 'timeout' (LangGraph's RetryPolicy fields).")
    timeout: float | None = Field(None, gt=0, description=_doc(Agent, "timeout"))
    loop_guard: LoopGuard | Literal[False] | None = Field(
        None, description="Loop guard settings ({max_repeats: 3} by default); false or null: "
        "off.")
    budget: Budget | None = Field(
        None, description="Limits of its whole call tree: max_model_calls, max_tool_rounds, "
        "max_tokens (input + output tokens), max_seconds (seconds of wall clock per run), "
        "max_cost (US dollars).")
    pricing: dict[str, tuple[NonNegativeFloat, NonNegativeFloat]] | None = Field(
        None, description="Model name -> [USD per million input tokens, USD per million "
        "output tokens], for models genai-prices does not know; inherited by its sub-agents "
        "(their own entries win). Local models cost 0.")
    background: bool | BackgroundEntry = Field(False, description=_doc(Agent, "background"))
    first_call: FirstCall | None = Field(None, description=_doc(Agent, "first_call"))
    needs_approval: list[str] = Field([], description=_doc(Agent, "needs_approval"))
    remote: RemoteEntry | None = Field(
        None, description="The agent runs on a LangGraph server (then it takes no model, "
        "prompt, tools, subagents, budget, background, needs_approval, answer_check, "
        "tool_timeout or loop_guard).")
    max_files: int | None = Field(
        None, ge=1, description="Directory entries one call of its built-in file tools (and "
        f"paths_exist) walks at most; unset: the team's max_files, else {MAX_WALK_ENTRIES}.")


class TeamFile(BaseModel):
    """A team file: agents, the root, shared settings."""

    model_config = ConfigDict(
        extra="forbid", title="subagents team file",
        json_schema_extra={"$schema": SCHEMA_DIALECT})

    root: str | None = Field(None, description="The root agent's name; unset: the first agent.")
    agents: list[AgentEntry] = Field(min_length=1, description="The agents, by name.")
    max_files: int | None = Field(
        None, ge=1, description="Default max_files of every agent's built-in file tools "
        f"(directory entries walked per call; unset: {MAX_WALK_ENTRIES}).")
    mcp_servers: dict[str, McpStdioServer | McpHttpServer] | None = Field(
        None, description="MCP servers by name: {command, args, env, cwd} (stdio) or "
        "{url, headers} (streamable HTTP); agents name their tools 'server.tool'.")


def team_json_schema() -> dict[str, Any]:
    """The team file's JSON Schema (draft 2020-12), as ``subagents schema`` prints it."""
    return TeamFile.model_json_schema()
