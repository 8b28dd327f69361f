"""Tracing names every sub-agent: LangChain runs named after the agents, nested as the tree.

An in-memory callback handler (no network; LangSmith sees the same runs) records every chain
run: each agent's run is named after it, tagged ``subagent:<name>``, and carries
``lc_agent_name``, ``subagents_path`` and (below the root) ``subagents_tool_call_id``; the
parent run ids nest as the ancestry paths do, for sync and parallel children.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage

from _modes import run_with
from subagents import Agent, compile_agent
from subagents.testing import ScriptedChatModel, ai, call


class Runs(BaseCallbackHandler):
    """Every chain run: id -> (name, parent id, tags, metadata)."""

    def __init__(self) -> None:
        self.runs: dict[UUID, tuple[str, UUID | None, list[str], dict[str, Any]]] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.runs[run_id] = (str(kwargs.get("name")), parent_run_id, list(tags or []),
                             dict(metadata or {}))

    def agent_runs(self) -> dict[UUID, str]:
        """Run id -> agent name, for the runs that are an agent's own graph run."""
        return {rid: name for rid, (name, _, tags, _) in self.runs.items()
                if f"subagent:{name}" in tags}

    def enclosing_agent(self, run_id: UUID) -> str | None:
        agents = self.agent_runs()
        parent = self.runs[run_id][1]
        while parent is not None and parent not in agents:
            parent = self.runs[parent][1] if parent in self.runs else None
        return agents.get(parent) if parent is not None else None


def policy(messages: list[Any], agent: str | None) -> AIMessage:
    last = messages[-1]
    if agent == "dev" and isinstance(last, HumanMessage):
        return ai(call("task", agent="explore", objective="look"),
                  call("task", agent="search", objective="find"))
    if agent == "explore" and isinstance(last, HumanMessage):
        return ai(call("task", agent="search", objective="deeper"))
    return ai(f"{agent} done")


def team() -> Agent:
    search = Agent(name="search", description="Searches.")
    explore = Agent(name="explore", description="Explores.", subagents=[search])
    return Agent(name="dev", subagents=[explore, search], max_subagent_depth=2,
                 model=ScriptedChatModel(policy=policy))


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_agent_runs_are_named_tagged_and_nested_as_the_tree(mode: str) -> None:
    runs = Runs()
    await run_with(mode, compile_agent(team()), runs)
    agents = runs.agent_runs()
    assert sorted(agents.values()) == ["dev", "explore", "search", "search"]
    nesting = sorted((tuple(runs.runs[rid][3]["subagents_path"]), runs.enclosing_agent(rid))
                     for rid in agents)
    assert nesting == [(("dev",), None), (("dev", "explore"), "dev"),
                       (("dev", "explore", "search"), "explore"), (("dev", "search"), "dev")]
    for rid, name in agents.items():
        meta = runs.runs[rid][3]
        assert meta["lc_agent_name"] == name
        if name != "dev":
            assert str(meta["subagents_tool_call_id"]).startswith("call_")
