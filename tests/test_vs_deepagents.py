"""State isolation between parent and sub-agent: this runtime against deepagents' ``task`` tool.

deepagents copies the parent's non-message state keys (custom ``state_schema`` fields, its
``files``...) into the sub-agent's input and merges the keys the sub-agent changed back into
the parent. This runtime gives a child only its task message, and the parent gets exactly one
``ToolMessage`` back. The deepagents side is skipped when it is not installed; this runtime's
side is always checked.

No ``from __future__ import annotations`` here: the deepagents tools below are defined inside
the test (after ``importorskip``) and their ``ToolRuntime`` annotation must be a real object.
"""

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.testing import ScriptedChatModel, ai, call

SECRET = "parent-secret-4711"
TASK = "Summarise the notes"
CHILD_PROMPT = "You are the child."


async def _stream(graph: Any, inp: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a graph; return the root's final state and the child's first (input) state."""
    root: dict[str, Any] = {}
    child: dict[str, Any] = {}
    async for ns, values in graph.astream(inp, stream_mode="values", subgraphs=True):
        if not ns:
            root = values
        elif not child:
            child = values
    assert child, "no sub-agent state was streamed"
    return root, child


def _kinds(messages: list[BaseMessage]) -> list[str]:
    return [type(m).__name__ for m in messages]


def _texts(model: ScriptedChatModel, agent: str) -> str:
    return "\n".join(str(m.content) for c in model.calls_by(agent) for m in c.messages)


@tool
def lookup(key: str) -> str:
    """Look up a key."""
    return f"value of {key}"


async def _run_ours() -> tuple[dict[str, Any], dict[str, Any], ScriptedChatModel, str]:
    """The root delegates once; the child calls a tool, then answers."""

    def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if agent == "root":
            return ai(call("task", agent="child", objective=TASK)) if done == 0 else ai("ok")
        return ai(call("lookup", key="k")) if done == 0 else ai("child answer")

    model = ScriptedChatModel(policy=policy)
    child = Agent(name="child", description="summarises", system_prompt=CHILD_PROMPT,
                  tools=[lookup])
    graph = compile_agent(Agent(name="root", model=model, subagents=[child]))
    # a parent message holding a secret, and a foreign top-level key as in deepagents' test
    root, child_in = await _stream(graph, {"messages": [HumanMessage(f"hi {SECRET}")],
                                           "secret": SECRET})
    task_id = model.calls_by("root")[0].reply.tool_calls[0]["id"]  # type: ignore[union-attr]
    return root, child_in, model, task_id


def _assert_ours_isolated(root: dict[str, Any], child_in: dict[str, Any],
                          model: ScriptedChatModel, task_id: str) -> None:
    # the child's whole input state is its task message, nothing of the parent's
    assert set(child_in) == {"messages"}
    assert _kinds(child_in["messages"]) == ["HumanMessage"]
    assert child_in["messages"][0].content == TASK
    first = model.calls_by("child")[0]
    assert _kinds(first.messages) == ["SystemMessage", "HumanMessage"]
    assert SECRET not in _texts(model, "child")
    # the parent's state: its own messages plus exactly one ToolMessage for the delegation
    assert set(root) == {"messages", "usage"}
    assert _kinds(root["messages"]) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    tool_messages = [m for m in root["messages"] if isinstance(m, ToolMessage)]
    assert [m.tool_call_id for m in tool_messages] == [task_id]
    result = DelegationResult.from_message(tool_messages[0])
    assert (result.status, result.result) == (Status.COMPLETED, "child answer")
    assert all("value of k" not in str(m.content) for m in root["messages"])


async def test_subagents_child_gets_only_its_task_and_parent_one_tool_message() -> None:
    _assert_ours_isolated(*await _run_ours())


async def test_deepagents_leaks_parent_state_to_subagent_and_back_where_subagents_does_not(
) -> None:
    pytest.importorskip("deepagents", reason="deepagents is not installed (pip install "
                        "deepagents): only this runtime's side is checked, by the test above")
    from typing import NotRequired

    from deepagents import DeepAgentState, create_deep_agent
    from langchain.tools import ToolRuntime
    from langgraph.types import Command

    class ParentState(DeepAgentState):
        secret: NotRequired[str]
        note: NotRequired[str]

    @tool
    def peek(runtime: ToolRuntime) -> str:
        """Read the state key 'secret'."""
        return str(runtime.state.get("secret"))

    @tool
    def stamp(runtime: ToolRuntime) -> Command:  # type: ignore[type-arg]
        """Write the state key 'note'."""
        return Command(update={"note": "written by the child", "messages": [
            ToolMessage("stamped", tool_call_id=runtime.tool_call_id or "")]})

    child_script = [ai(call("peek")), ai(call("stamp")),
                    ai(call("write_file", file_path="/scratch.txt", content="child notes")),
                    ai("child answer")]

    def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if agent == "root":
            if done == 0:
                return ai(call("task", subagent_type="child", description=TASK))
            return ai("ok")
        return child_script[done]

    model = ScriptedChatModel(policy=policy)
    graph = create_deep_agent(
        model=model, name="root", state_schema=ParentState,
        subagents=[{"name": "child", "description": "summarises", "system_prompt": CHILD_PROMPT,
                    "tools": [peek, stamp]}])
    root, child_in = await _stream(graph, {"messages": [HumanMessage(f"hi {SECRET}")],
                                           "secret": SECRET})

    # down: the sub-agent's input state carries the parent's custom key (and its files)
    assert child_in["secret"] == SECRET
    assert "files" in child_in
    assert _kinds(child_in["messages"]) == ["HumanMessage"]  # messages themselves are isolated
    peeked = model.calls_by("child")[1].messages[-1]
    assert isinstance(peeked, ToolMessage) and peeked.content == SECRET
    # up: what the sub-agent wrote to its state is merged into the parent's state
    assert root["note"] == "written by the child"
    assert "/scratch.txt" in root["files"]
    assert _kinds(root["messages"]) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]

    # the same scenario on this runtime: nothing goes down, one ToolMessage comes up
    _assert_ours_isolated(*await _run_ours())
