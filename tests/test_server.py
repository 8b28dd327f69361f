"""The exported ``research`` graph under a real ``langgraph dev`` server (loopback only).

One server for the module, started by ``_server.start_dev_server`` in a temporary directory
with the scripted demo model (``subagents.testing.demo:research_model``); every test talks to
it through ``langgraph_sdk`` like Studio or any client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient

from _server import DevServer, sdk_client, start_dev_server

pytestmark = pytest.mark.server

SLOW = 4.0
"""``SUBAGENTS_DEMO_SLOW``: long enough to cancel a researcher inside its tool, short enough
that a researcher surviving the cancellation would visibly finish within the test."""
GRAPH = "research"
STREAM_MODES = ["updates", "messages-tuple", "custom"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    workdir: Path = tmp_path_factory.mktemp("langgraph-dev")
    env = {"SUBAGENTS_MODEL": "python:subagents.testing.demo:research_model",
           "SUBAGENTS_DEMO_SLOW": str(SLOW), "SUBAGENTS_ROOT": str(workdir)}
    repo_state = Path(__file__).resolve().parents[1] / ".langgraph_api"
    existed = repo_state.exists()
    srv = start_dev_server(workdir, env)
    try:
        yield srv
    finally:
        srv.stop()
    assert (workdir / ".langgraph_api").is_dir()  # the runtime's files went to its cwd
    assert repo_state.exists() == existed  # ...and not into the repository


@pytest.fixture
async def client(server: DevServer) -> AsyncIterator[LangGraphClient]:
    async with sdk_client(server) as lg:
        yield lg


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _split(event: str) -> tuple[str, str]:
    """``custom|researcher:<id>`` -> (``custom``, ``researcher:<id>``); root: ns ``""``."""
    mode, _, ns = event.partition("|")
    return mode, ns


async def _stream(client: LangGraphClient, thread_id: str, text: str) -> list[tuple[str, str, Any]]:
    parts = []
    async for part in client.runs.stream(thread_id, GRAPH, input=_user(text),
                                         stream_mode=STREAM_MODES, stream_subgraphs=True):
        parts.append((*_split(part.event), part.data))
    return parts


def _customs(parts: list[tuple[str, str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(ns, data) for mode, ns, data in parts if mode == "custom"]


def _no_blocking_error(server: DevServer) -> None:
    log = server.log()
    assert "BlockingError" not in log, log[-4000:]
    assert "Blocking call" not in log, log[-4000:]


async def test_stream_carries_events_of_every_agent_with_their_path(
    client: LangGraphClient, server: DevServer
) -> None:
    async with asyncio.timeout(30):
        thread = await client.threads.create()
        parts = await _stream(client, thread["thread_id"], "cats, dogs")

    assert parts[0][0] == "metadata"
    customs = _customs(parts)
    paths = {tuple(e["path"]) for _, e in customs}
    assert {("lead",), ("lead", "researcher"), ("lead", "critic")} <= paths

    def of(kind: str, agent: str) -> list[tuple[str, dict[str, Any]]]:
        return [(ns, e) for ns, e in customs if e["type"] == kind and e["path"] == ["lead", agent]]

    # one background researcher per topic, then the critic (sync): start and end for each,
    # emitted on the parent's side (root namespace) with the child's ancestry path
    starts = of("subagent_start", "researcher")
    assert sorted(e["objective"] for _, e in starts) == ["cats", "dogs"]
    assert all(e["background"] is True and ns == "" for ns, e in starts)
    ends = of("subagent_end", "researcher")
    assert sorted(e["result"] for _, e in ends) == ["cats: facts about cats",
                                                    "dogs: facts about dogs"]
    assert {e["status"] for _, e in ends} == {"completed"}
    assert {e["tool_call_id"] for _, e in starts} == {e["tool_call_id"] for _, e in ends}
    [(_, critic_start)] = of("subagent_start", "critic")
    [(_, critic_end)] = of("subagent_end", "critic")
    assert critic_start["background"] is False
    assert critic_end["status"] == "completed"
    assert critic_end["result"].startswith("critique of")

    # the children's own events come from inside them: namespaced by the delegation node
    inner = {(ns.split(":")[0], e["path"][-1]) for ns, e in customs if ns}
    assert inner == {("researcher", "researcher"), ("critic", "critic")}
    researcher_ns = {ns for ns, e in customs if ns and e["path"] == ["lead", "researcher"]}
    assert len(researcher_ns) == 2  # two researchers, each in its own namespace
    # ...and every inner event belongs to a started child
    started = {e["tool_call_id"] for _, e in starts} | {critic_start["tool_call_id"]}
    assert {e["tool_call_id"] for ns, e in customs if ns} == started

    # updates and messages are namespaced for the children too
    for mode in ("updates", "messages"):
        prefixes = {ns.split(":")[0] for m, ns, _ in parts if m == mode and ns}
        assert prefixes == {"researcher", "critic"}, mode

    root_updates = [d for m, ns, d in parts if m == "updates" and not ns and "model" in d]
    final = root_updates[-1]["model"]["messages"][-1]
    assert final["type"] == "ai"
    assert final["content"].startswith("report:")
    _no_blocking_error(server)


async def test_state_and_history_show_the_lead_only(client: LangGraphClient) -> None:
    async with asyncio.timeout(30):
        thread = await client.threads.create()
        tid = thread["thread_id"]
        parts = await _stream(client, tid, "cats, dogs")
        state = await client.threads.get_state(tid, subgraphs=True)
        history = await client.threads.get_history(tid, limit=50)
        critic_ns = next(ns for mode, ns, _ in parts if mode == "updates"
                         and ns.startswith("critic:"))
        critic_state = await client.threads.get_state(tid, checkpoint={"checkpoint_ns": critic_ns})
        researcher_states = [
            await client.threads.get_state(tid, checkpoint={"checkpoint_ns": ns})
            for ns in sorted({ns for mode, ns, _ in parts if ns.startswith("researcher:")})]

    assert state["next"] == []
    assert state["tasks"] == []
    assert state["metadata"]["subagents_path"] == ["lead"]
    messages = state["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "tool", "ai", "tool", "ai",
                                             "tool", "ai"]
    # the lead's messages only: every AI message is the lead's, no child tool or reply
    assert {m["name"] for m in messages if m["type"] == "ai"} == {"lead"}
    assert {m["name"] for m in messages if m["type"] == "tool"} == {"task", "agent_await"}
    assert messages[-1]["content"].startswith("report:")
    # exactly one ToolMessage per tool call (per delegation)
    calls = [tc for m in messages if m["type"] == "ai" for tc in m["tool_calls"]]
    answered = [m["tool_call_id"] for m in messages if m["type"] == "tool"]
    assert sorted(answered) == sorted(tc["id"] for tc in calls)
    assert len(answered) == len(set(answered))
    delegations = [tc for tc in calls if tc["name"] == "task"]
    assert [tc["args"]["agent"] for tc in delegations] == ["researcher", "researcher", "critic"]
    awaited = json.loads(next(m["content"] for m in messages if m["name"] == "agent_await"))
    assert sorted(r["result"] for r in awaited["results"]) == ["cats: facts about cats",
                                                               "dogs: facts about dogs"]

    # history: the root's checkpoints only, newest first, ending at the current state
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert {h["checkpoint"]["checkpoint_ns"] for h in history} == {""}
    nexts = [h["next"] for h in reversed(history)]
    assert ["researcher"] in nexts  # the background calls of one turn share one Send
    assert ["critic"] in nexts
    assert ["lifecycle"] in nexts
    assert [h["metadata"]["step"] for h in reversed(history)] == list(range(-1, len(history) - 1))

    # the critic's own messages live in its namespace, not in the lead's state
    critic_msgs = critic_state["values"]["messages"]
    assert [m["type"] for m in critic_msgs] == ["human", "ai"]
    assert critic_msgs[-1]["name"] == "critic"
    assert all(m["id"] not in {x["id"] for x in messages} for m in critic_msgs)
    # so do the background researchers' (written after their delegation node had returned;
    # the cancel test relies on reading them this way)
    assert len(researcher_states) == 2
    for child in researcher_states:
        assert child["next"] == []
        assert [m["type"] for m in child["values"]["messages"]] == ["human", "ai", "tool", "ai"]


async def test_cancel_stops_running_background_researchers(
    client: LangGraphClient, server: DevServer
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run: dict[str, Any] = {}
    parts: list[tuple[str, str, Any]] = []
    in_tool: dict[str, float] = {}  # researcher namespace -> when its slow tool started
    cancel: asyncio.Task[None] | None = None
    cancel_took = 0.0

    async def do_cancel() -> None:
        nonlocal cancel_took
        t0 = time.monotonic()
        await client.runs.cancel(tid, run["run_id"], wait=True)
        cancel_took = time.monotonic() - t0

    async with asyncio.timeout(20):
        async for part in client.runs.stream(
            tid, GRAPH, input=_user("slow one, slow two"), stream_mode=STREAM_MODES,
            stream_subgraphs=True, on_run_created=lambda meta: run.update(meta),
        ):
            mode, ns = _split(part.event)
            parts.append((mode, ns, part.data))
            if mode == "custom" and part.data["type"] == "tool_start" and ns:
                in_tool[ns] = time.monotonic()
                if len(in_tool) == 2 and cancel is None:  # both researchers are sleeping
                    cancel = asyncio.create_task(do_cancel())
        assert cancel is not None, "the researchers never reached their slow tool"
        await cancel
        status = (await client.runs.get(tid, run["run_id"]))["status"]

    assert status == "interrupted"  # the SDK's cancel action "interrupt"
    assert cancel_took < SLOW / 2  # did not wait for the sleeping researchers
    ends = [e for _, e in _customs(parts) if e["type"] == "subagent_end"]
    assert not [e for e in ends if e["status"] == "completed"]
    assert not [e for _, e in _customs(parts) if e["type"] == "tool_end"]

    # the lead stopped at or inside agent_await (depending on timing: its model call asking
    # for agent_await may or may not be committed): both delegations answered "running"
    state = await client.threads.get_state(tid)
    lead = state["values"]["messages"]
    assert [m["type"] for m in lead][:4] == ["human", "ai", "tool", "tool"]
    assert [m["type"] for m in lead][4:] in ([], ["ai"])
    assert all('"running"' in m["content"] for m in lead if m["type"] == "tool")
    assert [tc["name"] for tc in lead[-1].get("tool_calls", [])] in ([], ["agent_await"])
    assert (await client.threads.get(tid))["status"] == "interrupted"

    # A researcher that outlived the cancellation would have finished its tool SLOW seconds
    # after starting it and written its final state into its own checkpoint namespace. Nothing
    # here can signal that it did not: wait out that window (on an event never set).
    window = max(0.0, max(in_tool.values()) + SLOW + 1.5 - time.monotonic())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), window)
    for ns in in_tool:
        child = await client.threads.get_state(tid, checkpoint={"checkpoint_ns": ns})
        msgs = child["values"]["messages"]
        assert child["next"] == ["tools"], ns
        assert [m["type"] for m in msgs] == ["human", "ai"], ns  # no tool result, no answer
    _no_blocking_error(server)


async def test_breakpoint_set_on_a_run_pauses_before_a_sub_agent(
    client: LangGraphClient,
) -> None:
    """What Studio does: ``interrupt_before`` on a run; a delegation node's name works."""
    async with asyncio.timeout(30):
        thread = await client.threads.create()
        tid = thread["thread_id"]
        await client.runs.wait(tid, GRAPH, input=_user("cats"), interrupt_before=["critic"])
        paused = await client.threads.get_state(tid)
        assert (await client.threads.get(tid))["status"] == "interrupted"
        assert paused["next"] == ["critic"]
        assert not [m for m in paused["values"]["messages"]
                    if m["type"] == "tool" and '"agent": "critic"' in m["content"]]

        out = await client.runs.wait(tid, GRAPH, input=None)
    assert isinstance(out, dict)
    assert out["messages"][-1]["content"].startswith("report:")
    critic = [m for m in out["messages"]
              if m["type"] == "tool" and '"agent": "critic"' in m["content"]]
    assert len(critic) == 1


async def test_human_in_the_loop_in_a_sub_agent_through_the_server_api(
        client: LangGraphClient) -> None:
    async with asyncio.timeout(60):
        thread = await client.threads.create()
        tid = thread["thread_id"]
        await client.runs.wait(tid, GRAPH, input=_user("ask me"))
        state = await client.threads.get_state(tid, subgraphs=True)
        interrupts = [i for task in state["tasks"] for i in task["interrupts"]]
        assert [i["value"] for i in interrupts] == [{"question": "Approve the findings?"}]
        await client.runs.wait(tid, GRAPH, command={"resume": "yes"})
        state = await client.threads.get_state(tid)
    messages = state["values"]["messages"]
    critic = [m["content"] for m in messages if m["type"] == "tool" and
              '"agent": "critic"' in m["content"]]
    assert len(critic) == 1 and "critique: the human said yes" in critic[0]
    awaited = [m for m in messages if m.get("name") == "agent_await"]
    assert len(awaited) == 1  # the researcher was not re-run by the resume
    assert messages[-1]["content"].startswith("report:")


async def test_delayed_run_and_cron_schedule_through_the_server(
        client: LangGraphClient) -> None:
    """Scheduled delegation on the server: the SDK's delayed runs and crons."""
    thread = await client.threads.create()
    created = time.monotonic()
    run = await client.runs.create(thread["thread_id"], GRAPH, input=_user("later"),
                                   after_seconds=2)
    await client.runs.join(thread["thread_id"], run["run_id"])
    done = await client.runs.get(thread["thread_id"], run["run_id"])
    assert done["status"] == "success"
    assert time.monotonic() - created >= 2
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"].startswith("report:")
    cron = await client.crons.create_for_thread(thread["thread_id"], GRAPH,
                                                schedule="*/5 * * * *", input=_user("tick"))
    found = await client.crons.search(thread_id=thread["thread_id"])
    assert [c["cron_id"] for c in found] == [cron["cron_id"]]
    await client.crons.delete(cron["cron_id"])


def test_server_log_has_no_blocking_error(server: DevServer) -> None:
    """Background children and every node ran under blockbuster without a blocking call."""
    _no_blocking_error(server)
    assert "Traceback" not in server.log()
