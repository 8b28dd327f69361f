"""The shared scripted policy, constants, graph builders and variants of ``background.py``.

``ours`` (``compile_agent`` of a root with one child, parallel or background), the
hand-written ``asyncio.gather`` (the baseline), a hand-written background run and the
hand-written ``Send`` graph (info); the checks every run passes, and the timed persistence
run of section 4. The hand-written pieces themselves live in ``_hand.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import _hand as hand
from _common import Samples, interleave_async
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph.state import CompiledStateGraph

from subagents import Agent, BackgroundConfig, compile_agent
from subagents.checkpoints import async_sqlite_saver
from subagents.nodes.schemas import lifecycle_specs, task_spec
from subagents.testing import ScriptedChatModel, call

LATENCY = 0.2
CRITICAL = 3 * LATENCY
TARGET_PARALLEL = 1.05
TARGET_BG = {100: 1.05, 1000: 1.15}
TARGET_MB_PER_CHILD = 1.0
TARGET_PERSIST = 1.10
MEM_CHILDREN = 1000
CHILD_PREFIX = "subtask"

# --------------------------------------------------------------------------- the shared policy


def _running_ids(messages: list[BaseMessage]) -> list[str]:
    ids = []
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == "task":
            payload = json.loads(str(m.content))
            if payload.get("status") == "running":
                ids.append(payload["id"])
    return ids


def policy(messages: list[BaseMessage], agent: str | None = None) -> AIMessage:
    """Stateless script shared by every side; it never looks at ``agent``.

    ``subtask ...`` (a child): answer. ``fan:N`` (root): N task calls in one turn, then answer.
    ``bg:N`` (root): N background task calls in one turn, then ``agent_await(ids, "all")``,
    then answer.
    """
    task = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    text = str(task.content)
    if text.startswith(CHILD_PREFIX):
        return AIMessage(content=f"answer to {text}")
    kind, _, count = text.partition(":")
    n = int(count)
    tools = [m for m in messages if isinstance(m, ToolMessage)]
    if kind == "fan" and not tools and n:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {i}") for i in range(n)])
    if kind == "bg" and not tools and n:
        return AIMessage(content="", tool_calls=[
            call("task", agent="child", objective=f"{CHILD_PREFIX} {i}", background=True)
            for i in range(n)])
    if kind == "bg" and n and not any(m.name == "agent_await" for m in tools):
        return AIMessage(content="", tool_calls=[
            call("agent_await", ids=_running_ids(messages), mode="all")])
    return AIMessage(content=f"root answer from {len(tools)} results")


_Graph = CompiledStateGraph[Any, Any, Any, Any]
CHILD = Agent(name="child", description="Answers one subtask.")
TASK_TOOL = task_spec([CHILD], with_context=True)
BG_TOOLS = [task_spec([CHILD], with_context=True, background=True),
            *lifecycle_specs(Agent(name="x", background=True).background_config)]  # type: ignore[arg-type]


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(policy=policy, latency=LATENCY)


def _forget(model: ScriptedChatModel) -> None:
    # the model records every call; drop them so repeats neither grow memory nor GC work
    model._calls.clear()


# --------------------------------------------------------------------------- this runtime


def build_ours(model: ScriptedChatModel, *, background: bool) -> _Graph:
    return compile_agent(Agent(name="root", model=model, subagents=[CHILD],
                               background=background))


async def run_ours(graph: _Graph, prompt: str) -> list[BaseMessage]:
    state = await graph.ainvoke({"messages": [HumanMessage(prompt)]})
    messages: list[BaseMessage] = state["messages"]
    return messages


# --------------------------------------------------------------------------- hand-written
# The pieces (state, child, parent, ToolMessage) live in _hand.py, shared with delegation.py
# and vs_deepagents.py; here: json.dumps(ensure_ascii=False), a missing tool-call id -> "".


def build_child(model: ScriptedChatModel) -> _Graph:
    """The hand-written child: START -> model -> END, no tools bound."""
    return hand.build_child(model, is_async=True)


async def hand_gather(model: ScriptedChatModel, child: _Graph,
                      n: int) -> list[BaseMessage]:
    """Root model call, ``asyncio.gather`` of n child graphs, root model call."""
    return await hand.gather(model, [TASK_TOOL], child, n, ensure_ascii=False, empty_id=True)


async def hand_background(model: ScriptedChatModel, child: _Graph,
                          n: int) -> list[BaseMessage]:
    """The background flow by hand (same 3 root calls): spawn, root call, gather, root call."""
    bound = model.bind_tools(BG_TOOLS)
    messages: list[BaseMessage] = [HumanMessage(f"bg:{n}")]
    first = await bound.ainvoke(messages)
    loop = asyncio.get_running_loop()
    jobs = {f"h_{i}": loop.create_task(child.ainvoke(hand.child_input(tc)))
            for i, tc in enumerate(first.tool_calls)}
    started = [hand.tool_message(tc, {"status": "running", "agent": "child", "result": None,
                                      "error": None, "id": job},
                                 ensure_ascii=False, empty_id=True)
               for tc, job in zip(first.tool_calls, jobs, strict=True)]
    messages = [*messages, first, *started]
    second = await bound.ainvoke(messages)
    messages.append(second)
    for tc in second.tool_calls:
        ids = tc["args"]["ids"]
        states = await asyncio.gather(*(jobs[i] for i in ids))
        results = [{"id": i, **hand.child_result(st)} for i, st in zip(ids, states, strict=True)]
        messages.append(hand.tool_message(tc, {"status": "completed", "mode": "all",
                                               "results": results, "error": None},
                                          ensure_ascii=False, empty_id=True))
    return [*messages, await bound.ainvoke(messages)]


def build_send_graph(model: ScriptedChatModel, child: _Graph) -> _Graph:
    """Info only: LangGraph's own fan-out idiom by hand, one ``Send`` per tool call to a node
    invoking the child (this runtime's shape without this runtime)."""
    return hand.build_send_parent(model.bind_tools([TASK_TOOL]), child, ensure_ascii=False,
                                  empty_id=True)


# --------------------------------------------------------------------------- checks


def _check(messages: list[BaseMessage], n: int, *, background: bool) -> None:
    tools = [m for m in messages if isinstance(m, ToolMessage)]
    assert sum(m.name == "task" for m in tools) == n, "wrong number of task results"
    assert all(m.status != "error" for m in tools), [m.content for m in tools
                                                     if m.status == "error"][:3]
    last = messages[-1]
    assert isinstance(last, AIMessage) and not last.tool_calls, "the root did not answer"
    if background and n:
        (awaited,) = [m for m in tools if m.name == "agent_await"]
        payload = json.loads(str(awaited.content))
        assert payload["status"] == "completed", payload.get("error")
        assert len(payload["results"]) == n
        assert all(r["status"] == "completed" and r["result"].startswith("answer to")
                   for r in payload["results"])


# --------------------------------------------------------------------------- variants


Variant = Callable[[], Coroutine[Any, Any, None]]


def make_variants(n: int, *, parallel: bool) -> dict[str, Variant]:
    """The variants of one scenario: ours, hand-written gather (target), and info rows."""
    m_ours, m_hand, m_hbg = _model(), _model(), _model()
    hand_child, hbg_child = build_child(m_hand), build_child(m_hbg)
    ours = build_ours(m_ours, background=not parallel)
    prompt = f"fan:{n}" if parallel else f"bg:{n}"

    async def v_ours() -> None:
        _check(await run_ours(ours, prompt), n, background=not parallel)
        _forget(m_ours)

    async def v_hand() -> None:
        _check(await hand_gather(m_hand, hand_child, n), n, background=False)
        _forget(m_hand)

    async def v_hbg() -> None:
        _check(await hand_background(m_hbg, hbg_child, n), n, background=True)
        _forget(m_hbg)

    out = {"ours": v_ours, "gather": v_hand}
    if not parallel:
        out["hand_bg"] = v_hbg
    else:
        send = build_send_graph(m_hbg, hbg_child)

        async def v_send() -> None:
            _check(await run_ours(send, prompt), n, background=False)
            _forget(m_hbg)
        out["send"] = v_send
    return out


# --------------------------------------------------------------------------- persistence


async def timed_persistence(n: int, repeats: int, db: Path) -> dict[str, Samples]:
    """The n-child background run on one SQLite file, persisted or not (a thread per run)."""
    async with async_sqlite_saver(db) as saver:
        variants: dict[str, Callable[[], Awaitable[object]]] = {}
        for persist in (None, False):
            model = _model()
            graph = compile_agent(Agent(name="root", model=model, subagents=[CHILD],
                                        background=BackgroundConfig(persist=persist)),
                                  checkpointer=saver)
            runs = iter(range(1_000_000))

            async def run(graph: _Graph = graph, model: ScriptedChatModel = model,
                          tag: str = f"p{int(persist is None)}", runs: Any = runs) -> None:
                cfg = {"configurable": {"thread_id": f"{tag}-{next(runs)}"}}
                state = await graph.ainvoke({"messages": [HumanMessage(f"bg:{n}")]}, cfg)
                _check(state["messages"], n, background=True)
                assert bool(state.get("background")) is tag.endswith("1"), "persist switch"
                _forget(model)

            variants["not persisted" if persist is False else "persisted"] = run
        return await interleave_async(variants, iterations=repeats, warmup=1, collect=True)
