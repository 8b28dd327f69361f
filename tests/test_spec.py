import pytest
from pydantic import BaseModel

from subagents import Agent, SpecError, compile_agent
from subagents.testing import ScriptedChatModel


def test_unknown_field_is_rejected_not_dropped() -> None:
    with pytest.raises(ValueError, match="max_step"):
        Agent(name="a", max_step=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["1abc", "has space", "", "x" * 65, "model", "task"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        Agent(name=name)


@pytest.mark.parametrize("field", ["max_steps", "max_subagent_depth", "max_output_retries"])
def test_negative_limits_name_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Agent(name="a", **{field: -1})


def test_output_schema_must_be_pydantic() -> None:
    with pytest.raises(ValueError, match="output_schema"):
        Agent(name="a", output_schema=dict)  # type: ignore[arg-type]


def test_duplicate_names_in_a_tree() -> None:
    leaf1, leaf2 = Agent(name="leaf"), Agent(name="leaf")
    mid = Agent(name="mid", subagents=[leaf1])
    with pytest.raises(ValueError, match="duplicate agent name 'leaf'"):
        Agent(name="root", subagents=[mid, leaf2])


def test_same_agent_object_twice_is_allowed() -> None:
    leaf = Agent(name="leaf")
    root = Agent(name="root", subagents=[Agent(name="mid", subagents=[leaf]), leaf])
    assert root.subagents[1] is leaf


def test_reserved_tool_names() -> None:
    from langchain_core.tools import tool

    @tool
    def task_x(q: str) -> str:
        """Clash."""
        return q

    with pytest.raises(ValueError, match="reserved tool names"):
        Agent(name="a", tools=[task_x])


def test_plain_functions_become_tools() -> None:
    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    agent = Agent(name="a", tools=[lookup])
    assert agent.tools[0].name == "lookup"


def test_unknown_name_reference_is_a_spec_error() -> None:
    class Out(BaseModel):
        x: int

    agent = Agent(name="a", subagents=["nobody"], model=ScriptedChatModel(steps=[]))
    with pytest.raises(SpecError, match="unknown agent 'nobody'"):
        compile_agent(agent)
