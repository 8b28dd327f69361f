"""A child's run scope registers in its parent's; ``CallInfo`` only flows down (#13)."""

from __future__ import annotations

from dataclasses import fields, replace

from subagents.runtime.background import BackgroundTable
from subagents.runtime.call import CallInfo
from subagents.runtime.jobs import BackgroundJob
from subagents.runtime.scope import RunScope
from subagents.spec.background import BackgroundConfig


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

