"""Every run inside an agent carries its agent's tags and metadata, not only the agent's own run.

``tests/test_tracing.py`` pins the agent-level runs. Here the runs inside them: the model
calls and nodes a callback handler (LangSmith, ``astream_events``) sees, ``get_config()``
inside a sub-agent's tool, and the metadata of ``stream_mode="messages"`` chunks all carry
the tag ``subagent:<name>`` (with the ancestors' tags), ``lc_agent_name``, ``subagents_path``
and, below the root, the delegation's ``subagents_tool_call_id``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.config import get_config

from _modes import run_with
from subagents import Agent, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

SEEN: list[tuple[list[str], dict[str, Any]]] = []


@tool
def probe(note: str) -> str:
    """Record the config the tool runs with."""
    config = get_config()
    SEEN.append((list(config.get("tags") or []), dict(config.get("metadata") or {})))
    return f"probed {note}"


def policy(messages: list[Any], agent: str | None) -> AIMessage:
    last = messages[-1]
    if agent == "dev" and isinstance(last, HumanMessage):
        return ai(call("task", agent="search", objective="find"))
    if agent == "search" and isinstance(last, HumanMessage):
        return ai(call("probe", note="x"))
    if agent == "search" and isinstance(last, ToolMessage):
        return ai("found")
    return ai(f"{agent} done")


def team() -> Agent:
    search = Agent(name="search", description="Searches.", tools=[probe])
    return Agent(name="dev", subagents=[search], model=ScriptedChatModel(policy=policy))


class ModelRuns(BaseCallbackHandler):
    """Tags and metadata of every chat model run and every node run."""

    def __init__(self) -> None:
        self.models: list[tuple[list[str], dict[str, Any]]] = []
        self.nodes: list[tuple[str, list[str], dict[str, Any]]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.models.append((list(tags or []), dict(metadata or {})))

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        meta = dict(metadata or {})
        if "langgraph_node" in meta:
            self.nodes.append((str(meta["langgraph_node"]), list(tags or []), meta))


def _agent_of(tags: list[str], meta: dict[str, Any]) -> tuple[str, list[str]]:
    """The agent a run belongs to by its metadata, checked against its tags."""
    name, path = meta["lc_agent_name"], list(meta["subagents_path"])
    assert path[-1] == name
    assert [t for t in tags if t.startswith("subagent:")] == [f"subagent:{a}" for a in path]
    if len(path) > 1:
        assert str(meta["subagents_tool_call_id"]).startswith("call_")
    else:
        assert "subagents_tool_call_id" not in meta
    return name, path


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_model_calls_nodes_and_tools_inside_a_child_carry_its_tags_and_metadata(
        mode: str) -> None:
    SEEN.clear()
    runs = ModelRuns()
    await run_with(mode, compile_agent(team()), runs)
    models = [_agent_of(tags, meta) for tags, meta in runs.models]
    assert models == [("dev", ["dev"]), ("search", ["dev", "search"]),
                      ("search", ["dev", "search"]), ("dev", ["dev"])]
    nodes = sorted({(node, *_agent_of(tags, meta)[:1]) for node, tags, meta in runs.nodes})
    # ("search", "search"): the child's graph run, inside its parent's node "search"
    assert nodes == [("model", "dev"), ("model", "search"), ("search", "dev"),
                     ("search", "search"), ("tools", "search")]
    assert [_agent_of(tags, meta) for tags, meta in SEEN] == [("search", ["dev", "search"])]
    tool_call_ids = {meta["subagents_tool_call_id"] for tags, meta in runs.models
                     if meta["lc_agent_name"] == "search"}
    assert tool_call_ids == {SEEN[0][1]["subagents_tool_call_id"]}


async def test_message_stream_metadata_names_each_agent() -> None:
    graph = compile_agent(team())
    seen: list[tuple[str, list[str]]] = []
    async for _ns, (_msg, meta) in graph.astream({"messages": [HumanMessage("go")]},
                                                 stream_mode="messages", subgraphs=True):
        seen.append((meta["lc_agent_name"], list(meta["subagents_path"])))
    assert ("dev", ["dev"]) in seen
    assert ("search", ["dev", "search"]) in seen
    assert {tuple(path) for _, path in seen} == {("dev",), ("dev", "search")}
