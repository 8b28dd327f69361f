"""Properties under malformed model outputs: no ids, duplicate ids, empty/unknown names,
text-only replies, invalid_tool_calls, mixed; every call answered, nothing escapes.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, InvalidToolCall

from _properties_support import (
    CHILD,
    EXECUTED,
    GENERATED,
    ROOT_MODEL,
    SETTINGS,
    TASK_GRAPH,
    TASK_ORACLE,
    TURNS,
    arun,
    check_run,
    objectives,
    report_counts,  # noqa: F401  (autouse: prints the generated counts)
    sentinel_task,
    tc,
)
from _strategies import args_like, names, strings
from subagents.events import BaseEvent

malformed_call = st.builds(
    tc,
    st.sampled_from(["probe", "task", "", "task_", "nope", "agent_await", "final_answer"])
    | names,
    args_like({"text": strings, "agent": st.sampled_from(["alpha", "beta"]),
               "objective": objectives}),
    st.sampled_from([None, "", "dup", "dup", "x"]) | st.text(max_size=6),
)
invalid_call = st.builds(
    lambda name, args, tid, error: InvalidToolCall(name=name, args=args, id=tid, error=error,
                                                   type="invalid_tool_call"),
    st.sampled_from([None, "", "task", "probe", "nope"]),
    st.sampled_from(["{not json", "", "[1,", "null", '{"agent": "alpha"', "\x00", "\ud800"])
    | strings,
    st.sampled_from([None, "", "dup", "x"]),
    st.none() | st.text(max_size=20),
)


@st.composite
def malformed_reply(draw: st.DrawFn) -> AIMessage:
    calls = list(draw(st.lists(malformed_call, max_size=4)))
    invalid = draw(st.lists(invalid_call, max_size=3))
    if draw(st.booleans()):
        calls.insert(draw(st.integers(0, len(calls))), sentinel_task("alpha"))
    content = draw(st.sampled_from(["", "thinking", "\x00"]) | strings)
    return AIMessage(content=content, tool_calls=calls, invalid_tool_calls=invalid)


@SETTINGS
@given(replies=st.lists(malformed_reply(), min_size=1, max_size=3))
async def test_malformed_model_outputs_are_answered(replies: list[AIMessage]) -> None:
    """No ids, duplicate ids, empty/unknown names, text-only, invalid_tool_calls, mixed."""
    GENERATED["malformed replies (async)"] += sum(
        len(r.tool_calls) + len(r.invalid_tool_calls) for r in replies)
    TURNS.turns = list(replies)
    start, before, executed = len(ROOT_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(TASK_GRAPH, events=events)
    check_run(out, ROOT_MODEL, "root", TASK_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)


# --------------------------------------------------------------------------- bugs found, now fixed


async def test_nested_non_string_keys_do_not_crash_the_run() -> None:
    TURNS.turns = [
        AIMessage(content="", tool_calls=[tc("probe", {"text": "a", "x": {1: "a", "b": 2}})]),
        AIMessage(content="", tool_calls=[tc("probe", {"text": "b"})]),
    ]
    out = await arun(TASK_GRAPH)
    assert out["messages"][-1].content == "done"
