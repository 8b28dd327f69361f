"""Semantics 3-5: output schema, limits, depth, enforcement at execution."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, InvalidToolCall, ToolCall, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from subagents import Agent, Budget, DelegationResult, LoopGuard, Status, compile_agent
from subagents.nodes._decide import ANSWER_CHECK, ERROR_KEY
from subagents.nodes.model import LIMIT_NUDGE, REPEAT_NUDGE
from subagents.nodes.plan import NUDGE_KEY, STOP_KEY
from subagents.testing import ScriptedChatModel, ai, call


class Finding(BaseModel):
    file: str
    line: int


def tool_results(state: dict) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in state["messages"] if isinstance(m, ToolMessage)}


def result_of(state: dict, tc: dict) -> DelegationResult:
    return DelegationResult.from_message(tool_results(state)[tc["id"]])


@tool
def echo(text: str) -> str:
    """Echo text."""
    return text


async def run(root: Agent) -> dict:
    return await compile_agent(root).ainvoke({"messages": [HumanMessage("go")]})


async def test_output_schema_validated_and_corrected() -> None:
    c = call("task", agent="finder", objective="find it")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "finder": [
            ai(call("final_answer", file="a.py", line="not a number")),
            ai("I think it is a.py"),  # text without final_answer: nudged
            ai(call("final_answer", file="a.py", line=7)),
        ],
    })
    finder = Agent(name="finder", output_schema=Finding, max_output_retries=2)
    out = await run(Agent(name="root", model=model, subagents=[finder]))
    res = result_of(out, c)
    assert res.status is Status.COMPLETED
    assert res.result == {"file": "a.py", "line": 7}
    second = model.calls_by("finder")[1].messages
    assert "invalid final_answer: line: Input should be a valid integer" in second[-1].content
    assert "final_answer" in model.calls_by("finder")[2].messages[-1].content
    assert model.calls_by("finder")[0].tools == ["final_answer"]


async def test_output_schema_gives_up_after_bound() -> None:
    c = call("task", agent="finder", objective="find it")
    bad = [ai(call("final_answer", file="a.py")) for _ in range(2)]
    model = ScriptedChatModel(steps={"root": [ai(c), ai("done")], "finder": bad})
    finder = Agent(name="finder", output_schema=Finding, max_output_retries=1)
    res = result_of(await run(Agent(name="root", model=model, subagents=[finder])), c)
    assert res.status is Status.FAILED
    assert "invalid final_answer: line: Field required" in (res.error or "")
    model.assert_complete()


async def test_root_output_schema_in_output_state() -> None:
    model = ScriptedChatModel(steps=[ai(call("final_answer", file="b.py", line=1))])
    out = await run(Agent(name="root", model=model, output_schema=Finding))
    assert out["structured_response"] == Finding(file="b.py", line=1)


async def test_max_steps_stops_with_partial_result() -> None:
    c = call("task", agent="worker", objective="loop")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai(call("echo", text="1")), ai(call("echo", text="2")),
                   ai("partial: saw 1 and 2")],
    })
    worker = Agent(name="worker", tools=[echo], max_steps=3)
    res = result_of(await run(Agent(name="root", model=model, subagents=[worker])), c)
    assert res.status is Status.MAX_STEPS
    assert res.result == "partial: saw 1 and 2"
    last = model.calls_by("worker")[-1]
    assert last.tools == [] and last.messages[-1].content == LIMIT_NUDGE
    model.assert_complete()


async def test_limit_call_that_still_calls_tools_is_not_executed() -> None:
    c = call("task", agent="worker", objective="loop")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai("half done", call("echo", text="never"))],
    })
    worker = Agent(name="worker", tools=[echo], max_steps=1)
    out = await run(Agent(name="root", model=model, subagents=[worker]))
    res = result_of(out, c)
    assert (res.status, res.result) == (Status.MAX_STEPS, "half done")


async def test_loop_guard_forces_an_answer_and_fails_the_child() -> None:
    c = call("task", agent="worker", objective="x")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai(call("echo", text="same")), ai(call("echo", text="same")),
                   ai("answer from what I have")],
    })
    worker = Agent(name="worker", tools=[echo], loop_guard=LoopGuard(max_repeats=1))
    res = result_of(await run(Agent(name="root", model=model, subagents=[worker])), c)
    assert (res.status, res.result) == (Status.FAILED, "answer from what I have")
    assert res.error == ('stopped by the loop guard: echo {"text": "same"} got the same result '
                         "once; the agent answered without tools")
    assert model.calls_by("worker")[-1].messages[-1].content == REPEAT_NUDGE
    assert model.calls_by("worker")[-1].tools == []


async def test_child_exception_and_recursion_error_never_kill_parent() -> None:
    from langgraph.errors import GraphRecursionError

    c1 = call("task", agent="a", objective="x")
    c2 = call("task", agent="b", objective="y")
    model = ScriptedChatModel(steps={
        "root": [ai(c1, c2), ai("survived")],
        "a": [GraphRecursionError("Recursion limit of 5 reached")],
        "b": [ValueError("bad things")],
    })
    out = await run(Agent(name="root", model=model, subagents=[Agent(name="a"), Agent(name="b")]))
    assert result_of(out, c1).status is Status.FAILED
    assert "GraphRecursionError" in (result_of(out, c1).error or "")
    assert result_of(out, c2).error == "ValueError: bad things"
    assert out["messages"][-1].content == "survived"


async def test_depth_zero_binds_no_delegation_tools_and_refuses() -> None:
    c_inner = call("task", agent="leaf", objective="deeper")
    c = call("task", agent="mid", objective="x")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "mid": [ai(c_inner), ai("mid could not delegate")],
    })
    mid = Agent(name="mid", subagents=[Agent(name="leaf")])  # root depth 1 -> mid depth 0
    out = await run(Agent(name="root", model=model, subagents=[mid]))
    assert model.calls_by("mid")[0].tools == []
    inner = json.loads(model.calls_by("mid")[1].messages[-1].content)
    assert inner["status"] == "depth_exceeded"
    assert result_of(out, c).result == "mid could not delegate"


async def test_depth_two_reaches_grandchildren_and_child_limit_wins() -> None:
    leaf = Agent(name="leaf")
    mid = Agent(name="mid", subagents=[leaf], max_subagent_depth=0)
    model = ScriptedChatModel(steps={"root": [ai("x")]})
    graph = compile_agent(Agent(name="root", model=model, subagents=[mid], max_subagent_depth=2))
    assert "mid/leaf" not in graph.get_graph(xray=True).draw_mermaid()
    mid2 = Agent(name="mid", subagents=[leaf])
    graph2 = compile_agent(Agent(name="root", model=model, subagents=[mid2],
                                 max_subagent_depth=2))
    assert "mid\\2fleaf" in graph2.get_graph(xray=True).draw_mermaid()


async def test_self_delegation_is_bounded_by_depth() -> None:
    def policy(messages: list, agent: str | None) -> AIMessage:
        if isinstance(messages[-1], HumanMessage):
            return ai(call("task", agent="fractal", objective=f"level of {agent}"))
        return ai(f"wrapped({messages[-1].content})")

    model = ScriptedChatModel(policy=policy)
    root = Agent(name="fractal", model=model, subagents=["fractal"], max_subagent_depth=2)
    out = await run(root)
    final = out["messages"][-1].content
    assert final.count("depth_exceeded") == 1 and final.count("wrapped(") == 3


async def test_forbidden_tool_and_unknown_agent_are_never_executed() -> None:
    executed: list[str] = []

    @tool
    def secret_tool(x: str) -> str:
        """Not given to the root."""
        executed.append(x)
        return x

    c1, c2 = call("secret_tool", x="1"), call("task", agent="ghost", objective="boo")
    c3 = call("task_child", objective="per-agent name on a task-style parent")
    model = ScriptedChatModel(steps={"root": [ai(c1, c2, c3), ai("ok")]})
    holder = Agent(name="holder", tools=[secret_tool])
    out = await run(Agent(name="root", model=model, tools=[echo],
                          subagents=[Agent(name="child"), holder]))
    r1, r2, r3 = (result_of(out, c) for c in (c1, c2, c3))
    assert r1.status is Status.FORBIDDEN_TOOL and "available tools: echo, task" in (r1.error or "")
    assert r2.status is Status.UNKNOWN_AGENT and "allowed: child, holder" in (r2.error or "")
    assert r3.status is Status.UNKNOWN_AGENT
    assert executed == []


async def test_malformed_tool_arguments_are_results_not_crashes() -> None:
    bad_json = InvalidToolCall(name="echo", args="{not json", id="bad1", error="Expecting value",
                               type="invalid_tool_call")
    reply = AIMessage(content="", tool_calls=[call("echo", wrong=1)], invalid_tool_calls=[bad_json])
    model = ScriptedChatModel(steps=[reply, ai("recovered")])
    out = await run(Agent(name="root", model=model, tools=[echo]))
    texts = [m.content for m in out["messages"] if isinstance(m, ToolMessage)]
    assert any("invalid arguments for 'echo'" in t and "text" in t for t in texts)
    assert any("not valid JSON" in t for t in texts)
    assert out["messages"][-1].content == "recovered"


async def test_missing_and_duplicate_tool_call_ids_are_repaired() -> None:
    dup = [{"name": "echo", "args": {"text": "a"}, "id": "same", "type": "tool_call"},
           {"name": "echo", "args": {"text": "b"}, "id": "same", "type": "tool_call"},
           {"name": "echo", "args": {"text": "c"}, "id": None, "type": "tool_call"}]
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=dup), ai("fine")])
    out = await run(Agent(name="root", model=model, tools=[echo]))
    ids = [m.tool_call_id for m in out["messages"] if isinstance(m, ToolMessage)]
    assert len(ids) == len(set(ids)) == 3
    assert sorted(m.content for m in out["messages"] if isinstance(m, ToolMessage)) == [
        "a", "b", "c"]


def answers(state: dict, tool_call_id: str) -> ToolMessage:
    return tool_results(state)[tool_call_id]


async def test_unparsable_delegation_gets_a_typed_result_own_tool_a_text() -> None:
    bad_task = InvalidToolCall(name="task", args='{"agent": "child"', id="t1",
                               error="Unterminated string", type="invalid_tool_call")
    bad_per_agent = InvalidToolCall(name="task_child", args="{", id="t2", error=None,
                                    type="invalid_tool_call")
    bad_echo = InvalidToolCall(name="echo", args="{not json", id="e1", error="Expecting value",
                               type="invalid_tool_call")
    model = ScriptedChatModel(steps={"root": [
        AIMessage(content="", invalid_tool_calls=[bad_task, bad_per_agent, bad_echo]),
        ai("recovered")]})
    out = await run(Agent(name="root", model=model, tools=[echo], subagents=[Agent(name="child")]))
    t1, t2 = (DelegationResult.from_message(answers(out, i)) for i in ("t1", "t2"))
    assert (t1.status, t1.agent, t1.result) == (Status.FAILED, "", None)
    assert t1.error == ("invalid arguments: the arguments of 'task' are not valid JSON: "
                        "Unterminated string; nothing was run")
    assert (t2.status, t2.agent) == (Status.FAILED, "child")
    assert t2.error == ("invalid arguments: the arguments of 'task_child' are not valid JSON; "
                        "nothing was run")
    assert all(answers(out, i).status == "error" for i in ("t1", "t2", "e1"))
    assert answers(out, "e1").content == (
        "Error: the arguments of 'echo' are not valid JSON: Expecting value")
    assert out["messages"][-1].content == "recovered"
    assert model.calls_by("child") == []


async def test_repeated_delegation_gets_a_typed_result_own_tool_a_text() -> None:
    first = [call("task", agent="child", objective="look"), call("echo", text="a")]
    again = [call("task", agent="child", objective="look"), call("echo", text="b")]
    model = ScriptedChatModel(steps={"root": [ai(*first), ai(*again), ai("answer")],
                                     "child": [ai("seen it")]})
    out = await run(Agent(name="root", model=model, tools=[echo], subagents=[Agent(name="child")],
                          loop_guard=LoopGuard(max_repeats=1)))
    assert result_of(out, first[0]).status is Status.COMPLETED
    res = result_of(out, again[0])
    assert (res.status, res.agent, res.result) == (Status.FAILED, "child", None)
    assert res.error == "not run: this reply repeats an earlier identical tool call"
    assert answers(out, again[0]["id"]).status == "error"
    skipped = answers(out, again[1]["id"])  # the sibling is not repeated, but not run either
    assert (skipped.content, skipped.status) == ("Not run: repeated call.", "error")
    assert len(model.calls_by("child")) == 1
    assert out["messages"][-1].content == "answer"


async def test_delegation_beside_final_answer_gets_a_typed_result() -> None:
    fa = call("final_answer", file="a.py", line=3)
    task, own = call("task", agent="child", objective="also this"), call("echo", text="x")
    model = ScriptedChatModel(steps={"root": [ai(task, fa, own)]})
    out = await run(Agent(name="root", model=model, tools=[echo], output_schema=Finding,
                          subagents=[Agent(name="child")]))
    assert out["structured_response"] == Finding(file="a.py", line=3)
    res = result_of(out, task)
    assert (res.status, res.agent) == (Status.FAILED, "child")
    assert res.error == "not run: final_answer ends the task"
    assert answers(out, own["id"]).content == "Not run: final_answer ends the task."
    assert answers(out, fa["id"]).content == "Final answer accepted."
    assert model.calls_by("child") == []


RECORDED: list[str] = []


@tool
def record(text: str) -> str:
    """Record text."""
    RECORDED.append(text)
    return f"recorded {text}"


def dup_text(first: ToolCall) -> str:
    return f"Not run: duplicate of call {first['id']} in this reply."


def dup_error(first: ToolCall) -> str:
    return f"not run: duplicate of call {first['id']} in this reply"


def one_answer_each(out: dict) -> None:
    """Every tool call of every reply has exactly one ToolMessage."""
    ids = [tc["id"] for m in out["messages"] if isinstance(m, AIMessage) for tc in m.tool_calls]
    got = [m.tool_call_id for m in out["messages"] if isinstance(m, ToolMessage)]
    assert sorted(got) == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("sync", [False, True])
async def test_identical_calls_in_one_reply_run_once(sync: bool) -> None:
    t1, t2 = call("task", agent="child", objective="look"), call("task", agent="child",
                                                                 objective="look")
    t3 = call("task", agent="child", objective="other")  # same name, other arguments: runs
    e1, e2, e3 = call("record", text="a"), call("record", text="a"), call("record", text="b")
    e4 = call("record", text="a")  # a third copy: also points at the first
    model = ScriptedChatModel(steps={"root": [ai(t1, e1, t2, e2, e3, t3, e4), ai("answer")],
                                     "child": [ai("seen"), ai("seen too")]})
    RECORDED.clear()
    root = Agent(name="root", model=model, tools=[record], subagents=[Agent(name="child")])
    graph, inputs = compile_agent(root), {"messages": [HumanMessage("go")]}
    out = graph.invoke(inputs) if sync else await graph.ainvoke(inputs)
    one_answer_each(out)
    assert sorted(RECORDED) == ["a", "b"]
    assert sorted(str(c.messages[-1].content) for c in model.calls_by("child")) == [
        "look", "other"]
    assert result_of(out, t1).status is result_of(out, t3).status is Status.COMPLETED
    res = result_of(out, t2)
    assert (res.status, res.agent, res.result, res.error) == (
        Status.FAILED, "child", None, dup_error(t1))
    assert answers(out, t2["id"]).status == "error"
    for dup in (e2, e4):
        assert (answers(out, dup["id"]).content, answers(out, dup["id"]).status) == (
            dup_text(e1), "error")
    assert answers(out, e3["id"]).content == "recorded b"
    second = model.calls_by("root")[1]  # no loop guard: the model goes on with its tools
    assert second.tools and second.messages[-1].content != REPEAT_NUDGE
    assert out["messages"][-1].content == "answer"


async def test_identical_per_agent_background_and_lifecycle_calls_run_once() -> None:
    w1, w2 = (call("task_w", objective="x", background=True) for _ in range(2))

    def check(messages: list) -> AIMessage:
        job = next(json.loads(m.content)["id"] for m in messages
                   if isinstance(m, ToolMessage) and '"running"' in m.content)
        return ai(call("agent_await", ids=[job]), call("agent_await", ids=[job]))

    model = ScriptedChatModel(steps={"root": [ai(w1, w2), check, ai("fin")],
                                     "w": [ai("worked")]})
    root = Agent(name="root", model=model, subagents=[Agent(name="w")], background=True,
                 delegation="per_agent")
    out = await run(root)
    one_answer_each(out)
    assert len(model.calls_by("w")) == 1
    assert json.loads(answers(out, w1["id"]).content)["status"] == "running"
    res = result_of(out, w2)
    assert (res.status, res.agent, res.error) == (Status.FAILED, "w", dup_error(w1))
    a1, a2 = next(m for m in out["messages"] if isinstance(m, AIMessage)
                  and m.tool_calls and m.tool_calls[0]["name"] == "agent_await").tool_calls
    assert json.loads(answers(out, a1["id"]).content)["status"] == "completed"
    assert (answers(out, a2["id"]).content, answers(out, a2["id"]).status) == (
        dup_text(a1), "error")


async def test_duplicates_of_an_earlier_call_are_repeats() -> None:
    first, again = call("echo", text="a"), [call("echo", text="a"), call("echo", text="a")]
    model = ScriptedChatModel(steps={"root": [ai(first), ai(*again), ai("answer")]})
    out = await run(Agent(name="root", model=model, tools=[echo],
                          loop_guard=LoopGuard(max_repeats=1)))
    one_answer_each(out)
    assert [answers(out, c["id"]).content for c in again] == ["Not run: repeated call."] * 2
    assert model.calls_by("root")[-1].messages[-1].content == REPEAT_NUDGE


def test_duplicate_keys_only_for_calls_sharing_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from subagents.nodes import _refuse

    a, b = call("echo", text="a"), call("grep", text="a")
    same = ToolCall(name="echo", args={"n": 1, "text": "a"}, id="x", type="tool_call")
    keyed: list[str] = []
    real = _refuse.call_key
    monkeypatch.setattr(_refuse, "call_key", lambda n, args: keyed.append(n) or real(n, args))
    assert _refuse.duplicates([a]) == _refuse.duplicates([a, b]) == {}
    assert keyed == []
    other = ToolCall(name="echo", args={"text": "a", "n": 1}, id="y", type="tool_call")
    assert _refuse.duplicates([a, b, same, call("echo", text="b"), other]) == {4: "x"}
    assert keyed == ["echo"] * 4  # grep's key was never computed


# ---------------------------------------------------------------------------- answer_check


class Recorder:
    """An answer check rejecting answers that mention 'bad', recording its calls."""

    def __init__(self, complaint: str = "Do not say bad; say good.") -> None:
        self.complaint = complaint
        self.calls: list[tuple[str, list]] = []

    def __call__(self, answer: str, messages: list) -> str | None:
        self.calls.append((answer, list(messages)))
        return self.complaint if "bad" in answer else None


@pytest.mark.parametrize("sync", [False, True])
async def test_answer_check_nudges_and_the_fixed_answer_ends(sync: bool) -> None:
    c = call("task", agent="worker", objective="answer")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai(call("echo", text="x")), ai("a bad answer"), ai("a good answer")],
    })
    check = Recorder()
    worker = Agent(name="worker", tools=[echo], answer_check=check)
    root = Agent(name="root", model=model, subagents=[worker])
    graph, start = compile_agent(root), {"messages": [HumanMessage("go")]}
    out = graph.invoke(start) if sync else await graph.ainvoke(start)
    res = result_of(out, c)
    assert (res.status, res.result, res.error) == (Status.COMPLETED, "a good answer", None)
    # only text answers are checked: the tool-call reply was not
    assert [answer for answer, _ in check.calls] == ["a bad answer", "a good answer"]
    answer, history = check.calls[0]
    assert isinstance(history[0], HumanMessage) and history[0].content == "answer"
    assert isinstance(history[-1], AIMessage) and history[-1].content == answer
    assert any(isinstance(m, ToolMessage) and m.content == "x" for m in history)
    nudge = model.calls_by("worker")[2].messages[-1]
    assert isinstance(nudge, HumanMessage) and nudge.content == check.complaint
    assert nudge.additional_kwargs.get(NUDGE_KEY) is True
    model.assert_complete()


async def test_answer_check_bound_ends_completed_with_the_complaint() -> None:
    c = call("task", agent="worker", objective="answer")
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai("bad 1"), ai("bad 2")],
    })
    check = Recorder()
    worker = Agent(name="worker", answer_check=check, max_output_retries=1)
    out = await run(Agent(name="root", model=model, subagents=[worker]))
    res = result_of(out, c)
    assert (res.status, res.result, res.error) == (Status.COMPLETED, "bad 2", check.complaint)
    assert len(check.calls) == 2
    model.assert_complete()


async def test_answer_check_with_no_retries_ends_at_once() -> None:
    model = ScriptedChatModel(steps=[ai("bad answer")])
    check = Recorder()
    out = await run(Agent(name="root", model=model, answer_check=check, max_output_retries=0))
    last = out["messages"][-1]
    assert last.content == "bad answer"
    assert last.response_metadata[STOP_KEY] == ANSWER_CHECK
    assert last.response_metadata[ERROR_KEY] == check.complaint
    assert not any(m.additional_kwargs.get(NUDGE_KEY) for m in out["messages"])
    model.assert_complete()


async def test_root_answer_check_nudge_is_in_the_history_and_not_a_new_task() -> None:
    model = ScriptedChatModel(steps=[ai("bad"), ai("bad again"), ai("good"), ai("next bad"),
                                     ai("next good")])
    check = Recorder()
    graph = compile_agent(Agent(name="root", model=model, answer_check=check, max_steps=5))
    out = await graph.ainvoke({"messages": [HumanMessage("q1")]})
    assert out["messages"][-1].content == "good"
    assert [m.content for m in out["messages"]].count(check.complaint) == 2
    # a new user message starts a new task: its retries and steps count from zero
    out = await graph.ainvoke({"messages": [*out["messages"], HumanMessage("q2")]})
    assert out["messages"][-1].content == "next good"
    model.assert_complete()


async def test_answer_check_not_called_when_forced_or_over_budget() -> None:
    c = call("task", agent="worker", objective="answer")
    check = Recorder()
    model = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai("bad partial", call("echo", text="never"))],
    })
    worker = Agent(name="worker", tools=[echo], max_steps=1, answer_check=check)
    res = result_of(await run(Agent(name="root", model=model, subagents=[worker])), c)
    assert (res.status, res.result) == (Status.MAX_STEPS, "bad partial")
    assert check.calls == []

    repeat = ScriptedChatModel(steps={
        "root": [ai(c), ai("done")],
        "worker": [ai(call("echo", text="same")), ai(call("echo", text="same")), ai("bad")],
    })
    worker = Agent(name="worker", tools=[echo], answer_check=check,
                   loop_guard=LoopGuard(max_repeats=1))
    res = result_of(await run(Agent(name="root", model=repeat, subagents=[worker])), c)
    assert (res.status, res.result) == (Status.FAILED, "bad")
    assert check.calls == []

    broke = ScriptedChatModel(steps={"root": [ai(c), ai("done")]})
    worker = Agent(name="worker", answer_check=check)
    root = Agent(name="root", model=broke, subagents=[worker],
                 budget=Budget(max_model_calls=1))
    out = await run(root)
    assert out["messages"][-1].response_metadata[STOP_KEY] == "over_budget"
    assert check.calls == []


def test_answer_check_spec_rules() -> None:
    agent = Agent(name="a", answer_check=Recorder())
    assert callable(agent.answer_check)
    assert Agent(name="b").answer_check is None
    with pytest.raises(ValueError, match="answer_check"):
        Agent(name="a", answer_check=Recorder(), output_schema=Finding)
    with pytest.raises(ValueError, match="answer_check"):
        Agent.from_remote("http://127.0.0.1:1", "g", name="r", answer_check=Recorder())
    with pytest.raises(ValueError, match="answer_check"):
        Agent(name="a", answer_check="paths_exist")
