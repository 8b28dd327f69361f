"""Background sub-agents: await modes, queueing, timeout, auto-cancel, cancellation."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from _waiting import Changes
from subagents import Agent, BackgroundConfig, Status, compile_agent, observe
from subagents.testing import ScriptedChatModel, ai, call

started: list[str] = []
started_changes: dict[str, Changes] = {}
gates: dict[str, asyncio.Event] = {}
LONG = 0.3
"""Work of ``t >= LONG`` seconds waits for its gate (opened by the test, or never: then it ends
when it is cancelled or timed out); shorter work ends at once. No test waits on a clock."""


@tool
async def wait(seconds: float, name: str = "") -> str:
    """Work for some seconds (see ``LONG``)."""
    if seconds >= LONG:
        await gates.setdefault(name, asyncio.Event()).wait()
    return f"waited {seconds}"


def child_policy(messages: list[BaseMessage]) -> AIMessage:
    """Objective 't=0.2 fail name': wait t seconds, then answer or fail."""
    objective = str(next(m for m in messages if isinstance(m, HumanMessage)).content)
    if isinstance(messages[-1], HumanMessage):
        started.append(objective)
        started_changes["started"].notify()
        seconds = float(re.search(r"t=([\d.]+)", objective).group(1))  # type: ignore[union-attr]
        return ai(call("wait", seconds=seconds, name=objective))
    if "fail" in objective:
        raise RuntimeError(f"boom: {objective}")
    return ai(f"ok: {objective}")


def running_ids(messages: list[BaseMessage]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, ToolMessage) and '"running"' in str(m.content):
            out.append(json.loads(str(m.content))["id"])
    return out


def make_team(objectives: list[str], then: list, *, config: BackgroundConfig | bool = True,
              ) -> tuple[Agent, ScriptedChatModel]:
    spawn = ai(*[call("task", agent="w", objective=o, background=True) for o in objectives])
    model = ScriptedChatModel(steps={"root": [spawn, *then]})
    policy_model = ScriptedChatModel(policy=child_policy)
    worker = Agent(name="w", model=policy_model, tools=[wait])
    return Agent(name="root", model=model, subagents=[worker], background=config), model


def await_call(mode: str):
    return lambda msgs: ai(call("agent_await", ids=running_ids(msgs), mode=mode))


def tool_json(out: dict, name: str) -> list[dict]:
    return [json.loads(m.content) for m in out["messages"]
            if isinstance(m, ToolMessage) and m.name == name]


@pytest.fixture(autouse=True)
def _reset() -> None:
    started.clear()
    gates.clear()
    started_changes["started"] = Changes()


async def run(root: Agent, config: dict | None = None) -> dict:
    return await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, config)


async def test_background_call_returns_an_id_at_once_and_await_all() -> None:
    root, model = make_team(["t=0.05 a", "t=0.01 b"], [await_call("all"), ai("fin")])
    out = await run(root)
    spawned = tool_json(out, "task")
    assert [s["status"] for s in spawned] == ["running", "running"]
    assert all(s["id"].startswith("bg_") for s in spawned)
    res = tool_json(out, "agent_await")[0]
    assert res["status"] == "completed"
    assert [r["result"] for r in res["results"]] == ["ok: t=0.05 a", "ok: t=0.01 b"]
    model.assert_complete()


async def test_all_fails_fast_at_the_first_failure() -> None:
    root, _ = make_team(["t=2 slow", "t=0.01 fail quick"], [await_call("all"), ai("fin")])
    scope, cfg = observe()
    out = await run(root, cfg)
    res = tool_json(out, "agent_await")[0]
    assert res["status"] == "failed"
    assert "boom: t=0.01 fail quick" in res["error"]
    statuses = {r["id"]: r["status"] for r in res["results"]}
    assert sorted(statuses.values()) == ["failed", "running"]
    # the slow one was auto-cancelled when the root ended, not awaited for 2 s
    slow = [n for n in scope.usage.children[0].children if "slow" in (n.objective or "")]
    assert slow[0].status == "cancelled"


async def test_all_settled_lists_every_result_and_error() -> None:
    root, _ = make_team(["t=0.02 fail x", "t=0.01 y"], [await_call("allSettled"), ai("fin")])
    res = tool_json(await run(root), "agent_await")[0]
    assert res["status"] == "completed"
    assert [(r["status"], r["error"] or r["result"]) for r in res["results"]] == [
        ("failed", "RuntimeError: boom: t=0.02 fail x"), ("completed", "ok: t=0.01 y")]


async def test_any_returns_first_success_and_fails_only_when_all_fail() -> None:
    root, _ = make_team(["t=0.01 fail a", "t=0.05 b", "t=0.3 c"], [await_call("any"), ai("x")])
    res = tool_json(await run(root), "agent_await")[0]
    assert (res["status"], res["results"][0]["result"]) == ("completed", "ok: t=0.05 b")
    root, _ = make_team(["t=0.01 fail a", "t=0.02 fail b"], [await_call("any"), ai("x")])
    res = tool_json(await run(root), "agent_await")[0]
    assert res["status"] == "failed"
    assert "all 2 failed" in res["error"]
    assert "boom: t=0.01 fail a" in res["error"] and "boom: t=0.02 fail b" in res["error"]


async def test_race_settles_with_the_first_even_when_it_fails() -> None:
    root, _ = make_team(["t=0.3 slow", "t=0.01 fail first"], [await_call("race"), ai("x")])
    res = tool_json(await run(root), "agent_await")[0]
    assert res["status"] == "failed"
    assert res["results"][0]["status"] == "failed"
    assert "fail first" in res["error"]


async def test_status_and_cancel_and_bad_ids() -> None:
    def status(msgs: list) -> AIMessage:
        first = running_ids(msgs)[0]
        return ai(call("agent_status", id=first), call("agent_cancel", id=first),
                  call("agent_status", id="bg_999999"), call("agent_await", ids=["nope"]))

    root, _ = make_team(["t=5 long"], [status, ai("fin")])
    out = await run(root)
    st = tool_json(out, "agent_status")
    assert st[0]["status"] == "running"
    assert "unknown id 'bg_999999'" in st[1]["error"]
    assert tool_json(out, "agent_cancel")[0]["cancelled"] is True
    assert "unknown id 'nope'" in tool_json(out, "agent_await")[0]["error"]


async def test_an_id_too_long_for_any_child_is_refused_without_echoing_it() -> None:
    huge = "x" * 1_000_000
    root, _ = make_team(["t=0 quick"], [ai(call("agent_status", id=huge),
                                           call("agent_cancel", id=huge),
                                           call("agent_await", ids=["bg_1", huge])), ai("fin")])
    out = await run(root)
    answers = [*tool_json(out, "agent_status"), *tool_json(out, "agent_cancel"),
               *tool_json(out, "agent_await")]
    assert len(answers) == 3
    for answer in answers:
        assert answer["status"] == "failed" and "1,000,000 characters" in answer["error"]
        assert len(json.dumps(answer)) < 500


async def test_ids_of_another_run_are_refused() -> None:
    root1, _ = make_team(["t=0.01 one"], [await_call("all"), ai("fin")])
    first_id = tool_json(await run(root1), "task")[0]["id"]
    foreign = lambda msgs: ai(call("agent_status", id=first_id))  # noqa: E731
    root2, _ = make_team(["t=0.01 two"], [foreign, ai("fin")])
    res = tool_json(await run(root2), "agent_status")[0]
    assert res["status"] == "failed" and "another agent's run" in res["error"]


async def test_max_concurrent_queues_in_fifo_order() -> None:
    objectives = [f"t=0.02 job{i}" for i in range(5)]
    root, _ = make_team(objectives, [await_call("allSettled"), ai("fin")],
                        config=BackgroundConfig(max_concurrent=2))
    res = tool_json(await run(root), "agent_await")[0]
    assert [r["status"] for r in res["results"]] == ["completed"] * 5
    assert started == objectives


async def test_timeout_cancels_with_status_timeout() -> None:
    root, _ = make_team(["t=5 forever", "t=0.01 quick"], [await_call("allSettled"), ai("fin")],
                        config=BackgroundConfig(timeout=0.2))
    res = tool_json(await run(root), "agent_await")[0]
    assert [r["status"] for r in res["results"]] == ["timeout", "completed"]
    assert "still running after 0.2 s" in res["results"][0]["error"]


async def test_auto_cancel_when_parent_ends_and_opt_out() -> None:
    root, _ = make_team(["t=5 orphan"], [ai("I am done without waiting")])
    scope, cfg = observe()
    await asyncio.wait_for(run(root, cfg), timeout=3)
    child = scope.usage.children[0].children[0]
    assert child.status == Status.CANCELLED
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    root, _ = make_team(["t=5 survivor"], [ai("done")],
                        config=BackgroundConfig(auto_cancel=False))
    scope, cfg = observe()
    await run(root, cfg)
    survivor = scope.usage.children[0].children[0]
    assert survivor.status is None  # the root ended; the child is still at work
    gates["t=5 survivor"].set()
    await asyncio.wait_for(asyncio.gather(*[  # the child's task, now free to end
        t for t in asyncio.all_tasks() if t is not asyncio.current_task()]), timeout=10)
    assert survivor.status == Status.COMPLETED


def test_background_under_sync_invoke_is_a_clear_failure() -> None:
    root, _ = make_team(["t=0.01 x"], [ai("fin")])
    out = compile_agent(root).invoke({"messages": [HumanMessage("go")]})
    res = tool_json(out, "task")[0]
    assert res["status"] == "failed" and "async run" in res["error"]


async def test_cancelling_the_root_cancels_every_descendant_three_levels_deep() -> None:
    leaf = Agent(name="leaf", model=ScriptedChatModel(policy=child_policy), tools=[wait])
    mid_model = ScriptedChatModel(steps={"mid": [
        ai(call("task", agent="leaf", objective="t=30 bg", background=True),
           call("task", agent="leaf", objective="t=30 sync")), ai("never")]})
    mid = Agent(name="mid", model=mid_model, subagents=[leaf], background=True)
    root_model = ScriptedChatModel(steps={"root": [ai(call("task", agent="mid", objective="go"))]})
    root = Agent(name="root", model=root_model, subagents=[mid], max_subagent_depth=2)
    scope, cfg = observe()
    task = asyncio.create_task(run(root, cfg))
    await started_changes["started"].until(lambda: len(started) >= 2, what="both leaves started")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1)
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    root_node = scope.usage.children[0]
    mid_node = root_node.children[0]
    assert root_node.status == mid_node.status == Status.CANCELLED
    assert sorted((n.objective, n.status) for n in mid_node.children) == [
        ("t=30 bg", "cancelled"), ("t=30 sync", "cancelled")]
    assert all(n.ended is not None for n in [root_node, mid_node, *mid_node.children])
