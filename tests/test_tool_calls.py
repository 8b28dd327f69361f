"""The tool node: timeouts, exits raised by tools, results paired with their own calls."""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.types import Command
from pydantic import ValidationError

from subagents import Agent, SpecError, compile_agent, with_timeout
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

TIMEOUT = 0.05  # seconds a hung tool is given; the tools below never end on their own


def results(out: dict) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}


def answer_after(*calls: dict) -> ScriptedChatModel:
    """A model that makes ``calls`` in one reply, then answers with the results it read."""
    def policy(messages: list) -> AIMessage:
        if isinstance(messages[-1], HumanMessage):
            return ai(*calls)
        return ai(" | ".join(str(m.content) for m in messages if isinstance(m, ToolMessage)))
    return ScriptedChatModel(policy=policy)


@pytest.fixture
def never() -> Iterator[threading.Event]:
    """An event no tool call sets; set at teardown so hung sync tools' threads end."""
    event = threading.Event()
    yield event
    event.set()


def hanging_tools(never: threading.Event) -> tuple[BaseTool, BaseTool, list[str]]:
    seen: list[str] = []

    @tool
    def hang_sync(x: str) -> str:
        """Wait for an event that never comes."""
        seen.append(f"sync thread daemon={threading.current_thread().daemon}")
        never.wait()
        return "never"

    @tool
    async def hang_async(x: str) -> str:
        """Wait for an event that never comes."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("async cancelled")
            raise
        return "never"

    return hang_sync, hang_async, seen


# ---------------------------------------------------------------------------- A. timeouts


async def test_hung_sync_and_async_tools_time_out_as_error_results(never: threading.Event,
                                                                   ) -> None:
    hang_sync, hang_async, seen = hanging_tools(never)
    c1, c2 = call("hang_sync", x="a"), call("hang_async", x="b")
    model = answer_after(c1, c2)
    out = await compile_agent(Agent(name="root", model=model, tools=[hang_sync, hang_async],
                                    tool_timeout=TIMEOUT)).ainvoke(
        {"messages": [HumanMessage("go")]})
    got = results(out)
    assert got[c1["id"]].status == "error" and got[c2["id"]].status == "error"
    assert "tool 'hang_sync' timed out after 0.05 s" in str(got[c1["id"]].content)
    assert "may still be running in its thread" in str(got[c1["id"]].content)
    assert "tool 'hang_async' timed out after 0.05 s (it was cancelled)" in str(
        got[c2["id"]].content)
    assert "timed out" in out["messages"][-1].content  # the model read both and answered
    assert sorted(seen) == ["async cancelled", "sync thread daemon=True"]


def test_sync_run_times_out_a_hung_tool_and_goes_on(never: threading.Event) -> None:
    hang_sync, _, _ = hanging_tools(never)
    c = call("hang_sync", x="a")
    graph = compile_agent(Agent(name="root", model=answer_after(c), tools=[hang_sync],
                                tool_timeout=TIMEOUT))
    out = graph.invoke({"messages": [HumanMessage("go")]})
    assert results(out)[c["id"]].status == "error"
    assert "timed out after 0.05 s" in out["messages"][-1].content


async def test_per_tool_timeout_wins_over_the_agents(never: threading.Event) -> None:
    hang_sync, hang_async, _ = hanging_tools(never)
    c1, c2 = call("hang_sync", x="a"), call("hang_async", x="b")
    agent = Agent(name="root", model=answer_after(c1, c2), tool_timeout=3600,
                  tools=[with_timeout(hang_sync, TIMEOUT), with_timeout(hang_async, 0.06)])
    out = await compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]})
    assert "timed out after 0.05 s" in str(results(out)[c1["id"]].content)
    assert "timed out after 0.06 s" in str(results(out)[c2["id"]].content)
    assert hang_sync.metadata is None  # with_timeout returns a copy


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), True, "5"])
def test_invalid_timeouts_are_spec_errors(seconds: object) -> None:
    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    with pytest.raises(SpecError, match="a timeout must be a number of seconds > 0"):
        with_timeout(echo, seconds)  # type: ignore[arg-type]
    if not isinstance(seconds, str | bool):
        with pytest.raises(ValidationError, match="tool_timeout"):
            Agent(name="a", tool_timeout=seconds)  # type: ignore[arg-type]
    bad = echo.model_copy(update={"metadata": {"subagents_timeout": seconds}})
    model = ScriptedChatModel(steps=[ai("x")])
    with pytest.raises(SpecError, match="agent 'a': tool 'echo': a timeout must be"):
        compile_agent(Agent(name="a", model=model, tools=[bad]))


def test_team_file_tool_timeout() -> None:
    team = {"agents": [{"name": "dev", "tools": ["grep"], "tool_timeout": 2.5}]}
    assert load_team(team).tool_timeout == 2.5
    with pytest.raises(SpecError, match="field 'tool_timeout'"):
        load_team({"agents": [{"name": "dev", "tool_timeout": 0}]})


# ------------------------------------------------------- B. SystemExit, KeyboardInterrupt


@tool
def cli_sync(argv: str) -> str:
    """Run a command line (argparse exits on bad arguments)."""
    parser = argparse.ArgumentParser(prog="cli")
    parser.add_argument("--n", type=int, required=True)
    return str(parser.parse_args(argv.split()).n)


@tool
async def cli_async(argv: str) -> str:
    """Run a command line (argparse exits on bad arguments)."""
    return str(cli_sync.func(argv))  # type: ignore[misc]


@tool
def interrupted_sync(x: str) -> str:
    """Raise KeyboardInterrupt."""
    raise KeyboardInterrupt


@tool
async def interrupted_async(x: str) -> str:
    """Raise KeyboardInterrupt."""
    raise KeyboardInterrupt


def exit_calls(*, with_async: bool) -> list[dict]:
    calls = [call("cli_sync", argv="--bogus"), call("interrupted_sync", x="a")]
    if with_async:
        calls += [call("cli_async", argv="--n"), call("interrupted_async", x="b")]
    return calls


def assert_exits_answered(out: dict, calls: list[dict]) -> None:
    got = results(out)
    for c in calls:
        text = str(got[c["id"]].content)
        assert got[c["id"]].status == "error", text
        assert "the tool tried to end the process" in text
    assert "SystemExit: 2" in str(got[calls[0]["id"]].content)
    assert "KeyboardInterrupt" in str(got[calls[1]["id"]].content)
    assert out["messages"][-1].content.count("the run goes on") == len(calls)


async def test_tool_exits_are_error_results_async(capsys: pytest.CaptureFixture[str]) -> None:
    calls = exit_calls(with_async=True)
    agent = Agent(name="root", model=answer_after(*calls),
                  tools=[cli_sync, cli_async, interrupted_sync, interrupted_async])
    out = await compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]})
    assert_exits_answered(out, calls)
    err = capsys.readouterr().err  # argparse's own complaints
    assert "required: --n" in err and "--n: expected one argument" in err


def test_tool_exits_are_error_results_sync() -> None:
    calls = exit_calls(with_async=False)
    agent = Agent(name="root", model=answer_after(*calls), tools=[cli_sync, interrupted_sync])
    out = compile_agent(agent).invoke({"messages": [HumanMessage("go")]})
    assert_exits_answered(out, calls)


async def test_cancelling_the_run_still_cancels_a_running_tool() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def wait_forever(x: str) -> str:
        """Wait."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    agent = Agent(name="root", model=answer_after(call("wait_forever", x="a")),
                  tools=[wait_forever], tool_timeout=3600)
    run = asyncio.create_task(compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]}))
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert cancelled.is_set()


def test_keyboard_interrupt_outside_tools_still_ends_the_run() -> None:
    model = ScriptedChatModel(steps=[KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        compile_agent(Agent(name="root", model=model)).invoke({"messages": [HumanMessage("go")]})


# ------------------------------------------------------------ C. results on their own call


@tool
def misaddressed_sync(x: str) -> ToolMessage:
    """Answer on another call's id."""
    return ToolMessage(content=f"sync {x}", tool_call_id="someone-else", status="error",
                       artifact={"x": x})


@tool
async def misaddressed_async(x: str) -> ToolMessage:
    """Answer on another call's id."""
    return ToolMessage(content=f"async {x}", tool_call_id="someone-else", artifact=[x])


@tool
def answer_for(target: str) -> ToolMessage:
    """Answer on the given call id, with a fixed message id."""
    return ToolMessage(content=f"for {target}", tool_call_id=target, id="one-message-id")


@tool
def commanding(x: str) -> Command:
    """Return a Command (not supported by agent tools)."""
    return Command(update={"messages": [ToolMessage(content="hijack", tool_call_id="zzz")]})


async def test_a_tool_message_for_another_call_answers_its_own_call() -> None:
    c1, c2 = call("misaddressed_sync", x="a"), call("misaddressed_async", x="b")
    c3 = call("commanding", x="c")
    c4, c5 = call("answer_for", target=c1["id"]), call("answer_for", target=c2["id"])
    agent = Agent(name="root", model=answer_after(c1, c2, c3, c4, c5),
                  tools=[misaddressed_sync, misaddressed_async, commanding, answer_for])
    out = await compile_agent(agent).ainvoke({"messages": [HumanMessage("go")]})
    got = results(out)
    assert set(got) == {c1["id"], c2["id"], c3["id"], c4["id"], c5["id"]}
    assert len([m for m in out["messages"] if isinstance(m, ToolMessage)]) == 5
    assert got[c5["id"]].content == f"for {c2['id']}"
    assert (got[c1["id"]].content, got[c1["id"]].status, got[c1["id"]].artifact) == (
        "sync a", "error", {"x": "a"})
    assert (got[c2["id"]].content, got[c2["id"]].status, got[c2["id"]].artifact) == (
        "async b", "success", ["b"])
    assert got[c3["id"]].status == "error"
    assert "returned a Command" in str(got[c3["id"]].content)
    assert "hijack" not in out["messages"][-1].content
