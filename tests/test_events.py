"""The event tree: order and paths at three levels (parallel + background), replay, filters."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, InvalidToolCall, ToolCall, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from syrupy.assertion import SnapshotAssertion

from subagents import (
    Agent,
    BackgroundConfig,
    DelegationResult,
    LoopGuard,
    Status,
    compile_agent,
    observe,
    stream_events,
)
from subagents.checkpoints import EventLog
from subagents.dispatch import Dispatcher, Handler
from subagents.events import BaseEvent, RunEnd, SubagentEnd, SubagentStart
from subagents.testing import ScriptedChatModel, ai, call


@tool
def grep(pattern: str) -> str:
    """Search."""
    return f"hit for {pattern}"


def policy(messages: list, agent: str | None) -> AIMessage:
    """dev -> explore (sync) and search (sync, parallel); explore -> search in background."""
    last = messages[-1]
    if agent == "dev":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="explore", objective="explore x"),
                      call("task", agent="search", objective="direct y"))
        return ai("dev done")
    if agent == "explore":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="search", objective="bg z", background=True))
        if isinstance(last, ToolMessage) and '"running"' in str(last.content):
            return ai(call("agent_await", ids=[json.loads(str(last.content))["id"]]))
        return ai("explore done")
    if isinstance(last, HumanMessage):
        return ai(call("grep", pattern=str(last.content)))
    return ai(f"search: {last.content}")


def team(**dev_kwargs: object) -> Agent:
    search = Agent(name="search", tools=[grep])
    explore = Agent(name="explore", subagents=[search], background=True)
    return Agent(name="dev", model=ScriptedChatModel(policy=policy),
                 subagents=[explore, search], max_subagent_depth=2, **dev_kwargs)


def per_agent_trace(events: list[BaseEvent]) -> dict[str, list[str]]:
    """Events grouped by agent invocation (path + starting call), in order; ids normalised."""
    keys: dict[tuple[str, str | None], str] = {}
    out: dict[str, list[str]] = {}
    for e in events:
        key = (" > ".join(e.path), e.tool_call_id)
        name = keys.setdefault(key, f"{key[0]} #{sum(k[0] == key[0] for k in keys)}")
        extra = getattr(e, "status", None) or getattr(e, "name", None) or ",".join(
            getattr(e, "tool_calls", []) or [])
        out.setdefault(name, []).append(f"{e.type} {extra or ''}".strip())
    return out


async def test_event_tree_order_and_paths(snapshot: SnapshotAssertion) -> None:
    *events, last = [e async for e in stream_events(compile_agent(team()),
                                                    {"messages": [HumanMessage("go")]})]
    assert isinstance(last, RunEnd) and last.path == ["dev"]  # the run's output, last
    assert last.output["messages"][-1].type == "ai"
    assert last.output["usage"]["totals"]["model_calls"] == sum(
        1 for e in events if e.type == "model_end")
    assert {tuple(e.path) for e in events} == {
        ("dev",), ("dev", "explore"), ("dev", "search"), ("dev", "explore", "search")}
    assert all(e.agent == e.path[-1] for e in events)
    ends = [e for e in events if isinstance(e, SubagentEnd)]
    assert sorted((tuple(e.path), e.status.value) for e in ends) == [
        (("dev", "explore"), "completed"), (("dev", "explore", "search"), "completed"),
        (("dev", "search"), "completed")]
    bg_end = next(e for e in ends if len(e.path) == 3)
    assert bg_end.result == "search: hit for bg z"
    assert bg_end.usage["model_calls"] == 2
    trace = per_agent_trace(events)
    assert trace == snapshot


async def test_on_subagent_event_sees_only_descendants_and_survives_errors() -> None:
    seen: list[tuple[tuple[str, ...], str]] = []

    def listener(path: list[str], event: BaseEvent) -> None:
        seen.append((tuple(path), event.type))
        if event.type == "tool_end":
            raise RuntimeError("listener bug")

    out = await compile_agent(team(on_subagent_event=listener)).ainvoke(
        {"messages": [HumanMessage("go")]})
    assert out["messages"][-1].content == "dev done"
    assert seen and all(len(p) >= 2 for p, _ in seen)
    assert ((("dev", "explore", "search"), "subagent_start")) in seen


async def test_summary_detail_hides_subagent_chatter() -> None:
    got: list[BaseEvent] = []
    _, cfg = observe(on_event=got.append, detail="summary")
    await compile_agent(team()).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    below = {e.type for e in got if len(e.path) > 1}
    assert below == {"subagent_start", "subagent_end"}
    assert {e.type for e in got if len(e.path) == 1} == {"model_start", "model_end"}


async def test_custom_stream_carries_events_from_every_depth() -> None:
    graph = compile_agent(team())
    paths = set()
    async for _ns, chunk in graph.astream({"messages": [HumanMessage("go")]},
                                          stream_mode="custom", subgraphs=True):
        paths.add(tuple(chunk["path"]))
    assert ("dev", "explore", "search") in paths and ("dev",) in paths
    updates = [ns async for ns, _ in graph.astream({"messages": [HumanMessage("go")]},
                                                   stream_mode="updates", subgraphs=True)]
    assert all(all(":" in part for part in ns) for ns in updates)


async def test_event_log_replays_the_tree(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    _, cfg = observe(on_event=log.sink("run-1"))
    await compile_agent(team()).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    log.close()
    again = EventLog(tmp_path / "events.sqlite")
    assert again.runs() == ["run-1"]
    events = again.events("run-1")
    again.close()
    ends = [e for e in events if isinstance(e, SubagentEnd)]
    assert len(ends) == 3 and {e.status.value for e in ends} == {"completed"}
    assert [e.type for e in events][:2] == ["model_start", "model_end"]


def refusing_team(**dev_kwargs: object) -> tuple[Agent, dict[str, str]]:
    """dev refuses ghost (unknown), an unparsable task call and a repeated call; mid, at
    depth 0, refuses leaf. Returns the team and the refused calls' ids by case."""
    ghost = call("task", agent="ghost", objective="boo")
    bad = InvalidToolCall(name="task", args="{", id="bad1", error="Expecting value",
                          type="invalid_tool_call")
    again = call("task", agent="mid", objective="m")
    deeper = call("task", agent="leaf", objective="deeper")
    model = ScriptedChatModel(steps={
        "dev": [AIMessage(content="", tool_calls=[call("task", agent="mid", objective="m"), ghost,
                                                  call("secret", x=1)],
                          invalid_tool_calls=[bad]),
                ai(again), ai("dev done")],
        "mid": [ai(deeper), ai("mid done")],
    })
    mid = Agent(name="mid", subagents=[Agent(name="leaf")])
    dev = Agent(name="dev", model=model, tools=[grep], subagents=[mid],
                loop_guard=LoopGuard(max_repeats=1), **dev_kwargs)
    return dev, {"ghost": ghost["id"] or "", "bad": "bad1", "again": again["id"] or "",
                 "deeper": deeper["id"] or ""}


def refused_of(events: list[BaseEvent]) -> dict[str, tuple[tuple[str, ...], str, str]]:
    """tool_call_id -> (path, status, objective) of each refused delegation's event pair."""
    out = {}
    for i, e in enumerate(events):
        if isinstance(e, SubagentEnd) and e.refused:
            start = events[i - 1]  # the pair is emitted together
            assert isinstance(start, SubagentStart)
            assert (start.path, start.tool_call_id) == (e.path, e.tool_call_id)
            assert e.error and e.result is None and e.usage == {}
            out[e.tool_call_id or ""] = (tuple(e.path), e.status.value, start.objective)
    return out


async def test_refused_delegations_are_event_pairs_at_the_child_path() -> None:
    team, ids = refusing_team()
    events = [e async for e in stream_events(compile_agent(team),
                                             {"messages": [HumanMessage("go")]})]
    assert refused_of(events) == {
        ids["ghost"]: (("dev", "ghost"), "unknown_agent", "boo"),
        ids["bad"]: (("dev", "task"), "failed", ""),
        ids["deeper"]: (("dev", "mid", "leaf"), "depth_exceeded", "deeper"),
        ids["again"]: (("dev", "mid"), "failed", "m"),
    }  # and no event for the forbidden own tool 'secret'
    ends = {(tuple(e.path), e.status.value, e.refused) for e in events
            if isinstance(e, SubagentEnd)}
    assert (("dev", "mid"), "completed", False) in ends  # the delegation that ran
    ghost_end = next(e for e in events if isinstance(e, SubagentEnd) and e.agent == "ghost")
    assert ghost_end.error == "'ghost' is not a sub-agent dev may delegate to; allowed: mid"
    # emitted by dev's model node right after its reply (in the order of its answers: the
    # unparsable call first), before the valid delegation starts
    first_end = next(i for i, e in enumerate(events) if e.type == "model_end")
    kinds = [(e.type, e.agent) for e in events[first_end + 1:first_end + 6]]
    assert kinds == [("subagent_start", "task"), ("subagent_end", "task"),
                     ("subagent_start", "ghost"), ("subagent_end", "ghost"),
                     ("subagent_start", "mid")]


async def test_refusal_events_reach_summary_listeners_and_the_event_log(tmp_path: Path) -> None:
    heard: list[tuple[tuple[str, ...], str]] = []
    team, ids = refusing_team(on_subagent_event=lambda p, e: heard.append((tuple(p), e.type)))
    summary: list[BaseEvent] = []
    log = EventLog(tmp_path / "events.sqlite")
    logged_sink = log.sink("run-1")

    def sink(event: BaseEvent) -> None:
        summary.append(event)
        logged_sink(event)

    _, cfg = observe(on_event=sink, detail="summary")
    await compile_agent(team).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    log.close()
    assert set(refused_of(summary)) == set(ids.values())
    again = EventLog(tmp_path / "events.sqlite")
    logged = again.events("run-1")
    again.close()
    assert refused_of(logged) == refused_of(summary)
    assert (("dev", "ghost"), "subagent_end") in heard
    assert (("dev", "mid", "leaf"), "subagent_end") in heard


class Query(BaseModel):
    query: str
    limit: int = Field(default=5, ge=1, le=100)


def invalid_arguments_team() -> tuple[Agent, dict[str, ToolCall]]:
    """root (task tool, background allowed) sends child four calls with invalid arguments
    (one in the background) and one valid call; mid (per-agent tools) sends finder a call
    failing its input_schema. Returns the team and the calls by case."""
    calls = {
        "empty": call("task", agent="child", objective=""),
        "context": call("task", agent="child", objective="with context", context=5),
        "missing": call("task", agent="child"),
        "bg": call("task", agent="child", objective=" ", background=True),
        "ok": call("task", agent="child", objective="fine"),
        "schema": call("task_finder", query="q", limit=0),
        "to_mid": call("task", agent="mid", objective="m"),
    }
    model = ScriptedChatModel(steps={
        "root": [ai(*[calls[k] for k in ("empty", "context", "missing", "bg", "ok", "to_mid")]),
                 ai("root done")],
        "mid": [ai(calls["schema"]), ai("mid done")],
        "child": [ai("child done")],
    })
    mid = Agent(name="mid", subagents=[Agent(name="finder", input_schema=Query)],
                delegation="per_agent")
    root = Agent(name="root", model=model, subagents=[Agent(name="child"), mid],
                 background=True, max_subagent_depth=2)
    return root, calls


def expect_invalid(calls: dict[str, ToolCall]) -> dict[str, tuple[tuple[str, ...], str, str]]:
    child, finder = ("root", "child"), ("root", "mid", "finder")
    return {calls["empty"]["id"] or "": (child, "failed", ""),
            calls["context"]["id"] or "": (child, "failed", "with context"),
            calls["missing"]["id"] or "": (child, "failed", ""),
            calls["bg"]["id"] or "": (child, "failed", " "),
            calls["schema"]["id"] or "": (finder, "failed", "")}


def assert_invalid_results(out: dict, calls: dict[str, ToolCall],
                           events: list[BaseEvent]) -> None:
    """Each invalid call: its typed failed result (unchanged), and the event pair carrying the
    same error; the valid sibling ran; the background flag is on the refused start."""
    answers = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    ends = {e.tool_call_id: e for e in events if isinstance(e, SubagentEnd) and e.refused}
    for key in ("empty", "context", "missing", "bg"):
        res = DelegationResult.from_message(answers[calls[key]["id"] or ""])
        assert (res.status, res.agent, res.result) == (Status.FAILED, "child", None)
        assert res.error and res.error.startswith("invalid arguments for child: ")
        assert ends[calls[key]["id"]].error == res.error
    assert ends[calls["context"]["id"]].error == (
        "invalid arguments for child: 'context' must be a string")
    assert ends[calls["schema"]["id"]].error == (
        "invalid arguments for finder: limit: Input should be greater than or equal to 1")
    starts = {e.tool_call_id: e for e in events if isinstance(e, SubagentStart)}
    assert starts[calls["bg"]["id"]].background is True
    assert starts[calls["empty"]["id"]].background is False
    assert DelegationResult.from_message(answers[calls["ok"]["id"] or ""]).status is (
        Status.COMPLETED)


async def test_invalid_delegation_arguments_are_refused_event_pairs_async() -> None:
    team, calls = invalid_arguments_team()
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = await compile_agent(team).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    assert refused_of(events) == expect_invalid(calls)
    assert_invalid_results(out, calls, events)
    ran = {(tuple(e.path), e.status.value) for e in events
           if isinstance(e, SubagentEnd) and not e.refused}
    assert ran == {(("root", "child"), "completed"), (("root", "mid"), "completed")}
    streamed = [e async for e in stream_events(compile_agent(invalid_arguments_team()[0]),
                                               {"messages": [HumanMessage("go")]})]
    assert len(refused_of(streamed)) == 5


def test_invalid_delegation_arguments_are_refused_event_pairs_sync() -> None:
    team, calls = invalid_arguments_team()
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = compile_agent(team).invoke({"messages": [HumanMessage("go")]}, cfg)
    assert refused_of(events) == expect_invalid(calls)
    assert_invalid_results(out, calls, events)


def test_invalid_delegation_arguments_without_listener_are_answered() -> None:
    team, calls = invalid_arguments_team()
    out = compile_agent(team).invoke({"messages": [HumanMessage("go")]})
    answers = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert all(answers[calls[k]["id"] or ""].status == "error"
               for k in ("empty", "context", "missing", "bg"))


async def test_duplicate_delegations_in_one_reply_are_refused_event_pairs() -> None:
    first, dup = (call("task", agent="child", objective="look") for _ in range(2))
    own, own_dup = call("grep", pattern="x"), call("grep", pattern="x")
    model = ScriptedChatModel(steps={"dev": [ai(first, own, dup, own_dup), ai("dev done")],
                                     "child": [ai("seen")]})
    dev = Agent(name="dev", model=model, tools=[grep], subagents=[Agent(name="child")])
    events = [e async for e in stream_events(compile_agent(dev),
                                             {"messages": [HumanMessage("go")]})]
    assert refused_of(events) == {dup["id"]: (("dev", "child"), "failed", "look")}
    end = next(e for e in events if isinstance(e, SubagentEnd) and e.refused)
    assert end.error == f"not run: duplicate of call {first['id']} in this reply"
    # emitted by dev's model node right after its reply, before the first call's child runs
    at = next(i for i, e in enumerate(events) if e.type == "model_end")
    assert [(e.type, e.tool_call_id) for e in events[at + 1:at + 4]] == [
        ("subagent_start", dup["id"]), ("subagent_end", dup["id"]),
        ("subagent_start", first["id"])]
    tools = [e for e in events if e.type == "tool_start"]
    assert [e.call_id for e in tools] == [own["id"]]  # the own tool's duplicate never ran


NEEDS_ASYNC = "background delegation needs an async run (ainvoke/astream) and background=True"


def subagent_trace(events: list[BaseEvent]) -> list[tuple]:
    """The subagent_start/subagent_end events: what the CLI tree and stream_events show."""
    out: list[tuple] = []
    for e in events:
        if isinstance(e, SubagentStart):
            out.append(("start", tuple(e.path), e.tool_call_id, e.objective, e.background))
        elif isinstance(e, SubagentEnd):
            out.append(("end", tuple(e.path), e.tool_call_id, e.status.value, e.refused,
                        e.error, e.result, e.usage))
    return out


def refused_pair(tc: ToolCall, path: tuple[str, ...], error: str) -> list[tuple]:
    return [("start", path, tc["id"], tc["args"]["objective"], True),
            ("end", path, tc["id"], "failed", True, error, None, {})]


def failed_answer(out: dict, tc: ToolCall) -> DelegationResult:
    msg = next(m for m in out["messages"]
               if isinstance(m, ToolMessage) and m.tool_call_id == tc["id"])
    return DelegationResult.from_message(msg)


def test_background_calls_under_sync_invoke_are_refused_event_pairs() -> None:
    bg1, bg2 = (call("task", agent="child", objective=o, background=True) for o in ("a", "b"))
    fg = call("task", agent="child", objective="c")
    model = ScriptedChatModel(steps={"root": [ai(bg1, fg, bg2), ai("root done")],
                                     "child": [ai("child done")]})
    root = Agent(name="root", model=model, subagents=[Agent(name="child")], background=True)
    events: list[BaseEvent] = []
    _, cfg = observe(on_event=events.append)
    out = compile_agent(root).invoke({"messages": [HumanMessage("go")]}, cfg)
    child = ("root", "child")
    trace = subagent_trace(events)
    refused = [t for t in trace if t[2] != fg["id"]]
    assert refused == [*refused_pair(bg1, child, NEEDS_ASYNC),
                       *refused_pair(bg2, child, NEEDS_ASYNC)]
    assert [t[:4] for t in trace if t[2] == fg["id"]] == [
        ("start", child, fg["id"], "c"), ("end", child, fg["id"], "completed")]
    for tc in (bg1, bg2):
        res = failed_answer(out, tc)
        assert (res.status, res.agent, res.error) == (Status.FAILED, "child", NEEDS_ASYNC)


async def test_background_call_without_background_table_is_a_refused_event_pair() -> None:
    bg = call("task", agent="child", objective="later", background=True)

    def root() -> Agent:  # no background: the run has no background table
        model = ScriptedChatModel(steps={"root": [ai(bg), ai("root done")]})
        return Agent(name="root", model=model, subagents=[Agent(name="child")])

    events = [e async for e in stream_events(compile_agent(root()),
                                             {"messages": [HumanMessage("go")]})]
    assert subagent_trace(events) == refused_pair(bg, ("root", "child"), NEEDS_ASYNC)
    out = await compile_agent(root()).ainvoke({"messages": [HumanMessage("go")]})
    assert failed_answer(out, bg).error == NEEDS_ASYNC


async def test_detached_call_the_dispatcher_rejects_is_a_refused_event_pair(
        tmp_path: Path) -> None:
    bg = call("task", agent="child", objective="outlive", background=True)
    model = ScriptedChatModel(steps={"root": [ai(bg), ai("root done")]})
    other = Agent(name="other", model=ScriptedChatModel(steps={"other": [ai("x")]}))
    async with Dispatcher(tmp_path / "jobs.sqlite", [other]) as dispatcher:  # no "child"
        root = Agent(name="root", model=model, subagents=[Agent(name="child")],
                     background=BackgroundConfig(deliver=Handler(name="h"),
                                                 dispatcher=dispatcher))
        events: list[BaseEvent] = []
        _, cfg = observe(on_event=events.append)
        out = await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}, cfg)
    error = "SpecError: unknown agent 'child'; registered: ['other']"
    assert subagent_trace(events) == refused_pair(bg, ("root", "child"), error)
    res = failed_answer(out, bg)
    assert (res.status, res.agent, res.error) == (Status.FAILED, "child", error)
