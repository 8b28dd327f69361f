"""A child's run scope registers in its parent's; ``CallInfo`` only flows down (#13)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from subagents import Agent, compile_agent
from subagents.runtime.background import BackgroundTable
from subagents.runtime.call import CallInfo
from subagents.runtime.jobs import BackgroundJob
from subagents.runtime.scope import RunScope
from subagents.spec.background import BackgroundConfig
from subagents.testing import ScriptedChatModel, call


def _scope(name: str, parent: RunScope | None = None, call: CallInfo | None = None,
           table: BackgroundTable[RunScope] | None = None) -> RunScope:
    path = (*parent.usage.path, name) if parent is not None else (name,)
    return RunScope(agent=name, path=path, parent=parent, call=call, budget=None,
                    background=BackgroundConfig() if table is None else None, table=table)


def test_the_parent_finds_each_attempt_s_scope_by_the_call() -> None:
    parent = _scope("boss")
    call = CallInfo("t1", "task")
    assert parent.child(call) is None  # not opened yet
    first = _scope("helper", parent, call)
    assert parent.child(call) is first
    call.attempt = 2
    assert parent.child(call) is None  # the next attempt has not opened
    second = _scope("helper", parent, replace(call))  # a stopped attempt's copy
    assert parent.child(call) is second and second is not first
    assert "scope" not in {f.name for f in fields(CallInfo)}  # nothing written back


def test_two_delegations_with_one_tool_call_id_keep_their_own_scopes() -> None:
    parent = _scope("boss")
    a, b = CallInfo("same", "a"), CallInfo("same", "b")
    scope_a, scope_b = _scope("helper", parent, a), _scope("helper", parent, b)
    assert (parent.child(a), parent.child(b)) == (scope_a, scope_b)


def test_an_adopting_run_takes_over_the_opened_children() -> None:
    paused = _scope("boss")
    table = paused.background
    assert table is not None and table.home is paused
    call = CallInfo("t1", "task", background=True)
    table.jobs["bg_x"] = BackgroundJob(id="bg_x", agent="helper", tool_call_id="t1", link=call)
    child = _scope("helper", paused, call)
    resumed = _scope("boss", table=table)
    assert table.home is resumed and resumed.child(call) is child
    assert paused.child(call) is None and child.parent is resumed
    assert [c is child.usage for c in resumed.usage.children] == [True]
    assert not paused.usage.children



def _cyclic_garbage(run: Callable[[], object]) -> list[str]:
    """Type names of the objects ``run`` left in reference cycles (found by a collection)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _delegating_root() -> Any:
    def policy(messages: list[BaseMessage]) -> AIMessage:
        text = str(messages[-1].content)
        if isinstance(messages[-1], HumanMessage) and text == "go":
            return AIMessage(content="", tool_calls=[call("task", agent="helper", objective="a")])
        return AIMessage(content=f"done: {text[:20]}")

    helper = Agent(name="helper", description="Helps.")
    return compile_agent(Agent(name="boss", model=ScriptedChatModel(policy=policy),
                               subagents=[helper]))


def test_a_finished_delegation_leaves_no_scope_in_a_reference_cycle() -> None:
    # a child's scope points at its parent's, which registers it: the parent's end drops
    # the registry, so a run's scopes are freed at once instead of by the cyclic GC (one
    # delegation: LangGraph's thread pool for parallel sync tasks makes cycles of its own)
    graph = _delegating_root()
    sync = _cyclic_garbage(lambda: graph.invoke({"messages": [HumanMessage("go")]}))
    in_async = _cyclic_garbage(
        lambda: asyncio.run(graph.ainvoke({"messages": [HumanMessage("go")]})))
    assert "RunScope" not in sync and "UsageNode" not in sync
    assert "RunScope" not in in_async and "UsageNode" not in in_async
