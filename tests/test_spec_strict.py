"""Spec validation is strict: names match in full, numbers and booleans are never coerced,
and no delegation tool can hide another tool."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool
from pydantic import ValidationError

from subagents import Agent
from subagents.spec import RemoteSpec
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget


@tool
def grep(pattern: str) -> str:
    """Search files."""
    return pattern


@pytest.mark.parametrize("name", ["dev\n", "dev\r\n", "\ndev"])
def test_names_match_in_full(name: str) -> None:
    with pytest.raises(ValidationError, match="invalid agent name"):
        Agent(name=name)
    with pytest.raises(ValidationError, match="invalid tool name"):
        Agent(name="dev", tool_name=name)


@pytest.mark.parametrize("tool_name", ["task", "final_answer", "agent_status", "agent_cancel",
                                       "agent_await"])
def test_tool_name_may_not_take_a_runtime_tool(tool_name: str) -> None:
    with pytest.raises(ValidationError, match=f"tool name '{tool_name}' is a tool the runtime"):
        Agent(name="child", tool_name=tool_name)


def test_tool_name_may_not_hide_a_tool_of_the_parent() -> None:
    child = Agent(name="child", tool_name="grep")
    with pytest.raises(ValidationError) as info:
        Agent(name="lead", tools=[grep], subagents=[child])
    assert ("sub-agent 'child' is delegated to by tool 'grep', the name of lead's tool 'grep'"
            in str(info.value))


@pytest.mark.parametrize(("first", "second"), [
    ({"name": "a", "tool_name": "find"}, {"name": "b", "tool_name": "find"}),
    ({"name": "a"}, {"name": "b", "tool_name": "task_a"}),
])
def test_tool_name_may_not_hide_a_sibling(first: dict[str, Any], second: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        Agent(name="lead", delegation="per_agent",
              subagents=[Agent(**first), Agent(**second)])
    assert "sub-agent 'b' is delegated to by tool" in str(info.value)
    assert "sub-agent 'a''s delegation tool" in str(info.value)


def test_tool_name_clash_through_a_cycle_name() -> None:
    inner = Agent(name="inner", tools=[grep], subagents=["lead"])
    with pytest.raises(ValidationError, match="sub-agent 'lead' is delegated to by tool "
                       "'grep', the name of inner's tool 'grep'"):
        Agent(name="lead", tool_name="grep", subagents=[inner])


@pytest.mark.parametrize(("field", "value"), [
    ("max_steps", True), ("max_steps", "5"), ("max_steps", 5.0), ("max_subagent_depth", "1"),
    ("max_output_retries", False), ("persistent", 1), ("persistent", "true"),
    ("delegation_context", "yes"), ("background", "true"), ("background", 1),
])
def test_agent_numbers_and_booleans_are_not_coerced(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"{field}\n.*not converted"):
        Agent(name="dev", **{field: value})


@pytest.mark.parametrize(("model", "kwargs"), [
    (Budget, {"max_model_calls": True}), (Budget, {"max_tokens": "5"}),
    (Budget, {"max_seconds": "1"}), (BackgroundConfig, {"max_concurrent": "2"}),
    (BackgroundConfig, {"max_concurrent": True}), (BackgroundConfig, {"timeout": "3"}),
    (BackgroundConfig, {"auto_cancel": 1}), (BackgroundConfig, {"park_ttl": "5"}),
])
def test_budget_and_background_numbers_are_not_coerced(model: type[Any],
                                                      kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=next(iter(kwargs))):
        model(**kwargs)


@pytest.mark.parametrize("kwargs", [{"timeout": "3"}, {"cancel_timeout": True}])
def test_remote_numbers_are_not_coerced(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="not converted"):
        RemoteSpec(url="http://127.0.0.1:1", graph_id="g", **kwargs)


def test_well_typed_values_still_pass() -> None:
    agent = Agent(name="dev", max_steps=5, persistent=True, background={"timeout": 2},
                  budget=Budget(max_seconds=2, max_model_calls=3))
    assert (agent.max_steps, agent.persistent) == (5, True)
    assert agent.background_config == BackgroundConfig(timeout=2.0)
    assert agent.budget is not None and agent.budget.max_seconds == 2.0
    assert RemoteSpec(url="u", graph_id="g", timeout=3, api_key="k").timeout == 3.0
    lead = Agent(name="lead", tools=[grep], delegation="per_agent",
                 subagents=[Agent(name="a", tool_name="find"), Agent(name="b")])
    assert [s.delegation_tool_name for s in lead.subagents if isinstance(s, Agent)] == [
        "find", "task_b"]
