"""Properties under bad input: every tool call answered once, refusals never executed.

Each property compiles its graph once and varies only the scripted replies. For every
generated case it checks that the run ends (``asyncio.wait_for``), that nothing escapes to the
caller, that every tool call of every parent turn is answered by exactly one ToolMessage with
its tool_call_id, that delegation results and refusals parse as ``DelegationResult`` (lifecycle
results as JSON with a ``status``), that a valid sibling's result is intact, that a refused
call never executes (recording tools and recording child models), that of identical calls in
one reply only the first runs (each other one answered "not run: duplicate"), and that every
delegation the runtime refuses (model node: allow list, depth, not JSON, repeated, duplicate;
delegation node: invalid arguments, a background call it cannot run in the background) has
its ``subagent_start`` / refused ``subagent_end`` events.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    InvalidToolCall,
    ToolCall,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SkipValidation, ValidationError

from _strategies import (
    AWAIT_MODES,
    HUGE,
    SPECIAL,
    Foreign,
    Own,
    args_like,
    names,
    resolve,
    strings,
    values,
)
from subagents import (
    Agent,
    BackgroundConfig,
    Budget,
    DelegationResult,
    Status,
    compile_agent,
    observe,
)
from subagents.events import BaseEvent, SubagentEnd, SubagentStart
from subagents.nodes.model import LIMIT_NUDGE, REPEAT_NUDGE
from subagents.nodes.plan import STOP_KEY
from subagents.testing import ScriptedChatModel, ai

TIMEOUT = 20.0
SETTINGS = settings(max_examples=100, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])
GENERATED: Counter[str] = Counter()
"""Generated tool-call argument sets per property (printed at the end of the module)."""
JOB_STATUSES = {s.value for s in Status} - {"forbidden_tool", "unknown_agent",
                                             "depth_exceeded", "over_budget"}
REPEATED = "Not run: repeated call."


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    total = sum(n for k, n in GENERATED.items() if not k.startswith("(of which"))
    print(f"\ngenerated tool-call argument sets: {dict(GENERATED)} total={total}")


# --------------------------------------------------------------------------- recording parts

EXECUTED: list[tuple[str, Any]] = []
"""Every execution of a recording tool: (tool, argument)."""


@tool
def probe(text: str) -> str:
    """Echo text back (records every execution)."""
    EXECUTED.append(("probe", text))
    return text


@tool
def secret(x: str) -> str:
    """A tool only the 'holder' agent has (records every execution)."""
    EXECUTED.append(("secret", x))
    return x


@tool
async def nap(seconds: float) -> str:
    """Sleep a little."""
    await asyncio.sleep(0.03)
    return "rested"


class Query(BaseModel):
    """The input schema of the 'searcher' sub-agent."""

    model_config = ConfigDict(extra="forbid")
    query: str
    limit: int = Field(default=5, ge=1, le=100)


def task_text(messages: list[BaseMessage]) -> str:
    first = next((m for m in messages if isinstance(m, HumanMessage)), None)
    return str(first.content) if first is not None else ""


def child_answer(agent: str | None, task: str) -> str:
    return f"{agent} did {task}" if task.startswith("SENTINEL") else f"{agent} done"


def child_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """Children answer in one call; a background 'slow' job naps first."""
    task = task_text(messages)
    if task.startswith("SLOWJOB") and isinstance(messages[-1], HumanMessage):
        return ai(ToolCall(name="nap", args={"seconds": 1}, id=None, type="tool_call"))
    return ai(child_answer(agent, task))


CHILD = ScriptedChatModel(policy=child_policy)
"""The model of every leaf child: its ``calls`` count executions."""


class RawModel(BaseChatModel):
    """A chat model returning ``policy(messages, agent)`` verbatim.

    Unlike ``ScriptedChatModel`` it keeps missing and duplicate tool-call ids, so the
    package's own repair is what is tested. ``log`` records (agent, forced, input, reply): a
    forced last call (after a loop-guard nudge) is answered with text.
    """

    policy: SkipValidation[Callable[[list[BaseMessage], str | None], AIMessage]]
    _log: list[tuple[str | None, bool, list[BaseMessage], AIMessage]] = PrivateAttr(
        default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "raw"

    @property
    def log(self) -> list[tuple[str | None, bool, list[BaseMessage], AIMessage]]:
        return self._log

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=[t["function"]["name"] for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        last = messages[-1] if messages else None
        forced = isinstance(last, HumanMessage) and last.content in (LIMIT_NUDGE, REPEAT_NUDGE)
        reply = AIMessage(content="forced answer") if forced else self.policy(messages, agent)
        self._log.append((agent, forced, list(messages), reply))
        return ChatResult(generations=[ChatGeneration(message=reply.model_copy(deep=True))])

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return self._generate(messages, stop, run_manager, **kwargs)


def tc(name: str, args: dict[str, Any], tid: str | None = None) -> ToolCall:
    return ToolCall(name=name, args=args, id=tid, type="tool_call")


_nonce = iter(range(10**9))


def sentinel_task(agent: str = "alpha", tool: str = "task") -> ToolCall:
    args = {"objective": f"SENTINEL {next(_nonce)}"}
    return tc(tool, {"agent": agent, **args} if tool == "task" else args, f"sent_{next(_nonce)}")


class Turns:
    """The root's replies for the current example: turn i is the i-th reply, then 'done'."""

    def __init__(self) -> None:
        self.turns: list[AIMessage | Callable[[list[BaseMessage]], AIMessage]] = []
        self.by_agent: dict[str, list[AIMessage]] = {}

    def policy(self, root: str) -> Callable[[list[BaseMessage], str | None], AIMessage]:
        def reply(messages: list[BaseMessage], agent: str | None) -> AIMessage:
            turn = sum(isinstance(m, AIMessage) for m in messages)
            script = self.turns if agent == root else self.by_agent.get(agent or "", [])
            if turn >= len(script):
                return child_policy(messages, agent) if agent != root else ai("done")
            step = script[turn]
            return step if isinstance(step, AIMessage) else step(messages)

        return reply


# --------------------------------------------------------------------------- checks


def answered_turns(messages: list[BaseMessage]) -> list[tuple[AIMessage, dict[str, ToolMessage]]]:
    """Every call of every AI turn answered by exactly one ToolMessage before the next turn."""
    turns: list[tuple[AIMessage, dict[str, ToolMessage]]] = []
    consumed, i = 0, 0
    while i < len(messages):
        msg = messages[i]
        i += 1
        if not isinstance(msg, AIMessage):
            continue
        answers: list[ToolMessage] = []
        while i < len(messages) and isinstance(messages[i], ToolMessage):
            answers.append(messages[i])  # type: ignore[arg-type]
            i += 1
        consumed += len(answers)
        ids = [c["id"] for c in msg.tool_calls] + [b["id"] for b in msg.invalid_tool_calls]
        assert all(isinstance(x, str) and x for x in ids), f"call without id: {ids}"
        assert len(set(ids)) == len(ids), f"duplicate ids in one turn: {ids}"
        got = [a.tool_call_id for a in answers]
        assert Counter(got) == Counter(ids), f"answers {got} != calls {ids}"
        turns.append((msg, {a.tool_call_id: a for a in answers}))
    total = sum(isinstance(m, ToolMessage) for m in messages)
    assert consumed == total, "a ToolMessage answers no call of its turn"
    return turns


def same_calls(raw: list[tuple[str | None, bool, list[BaseMessage], AIMessage]], agent: str,
               stored: list[AIMessage]) -> None:
    """The stored turns hold every call the model made (none lost), with its id when usable."""
    mine = [(forced, reply) for a, forced, _, reply in raw if a == agent]
    stored = [m for m in stored if m.response_metadata.get(STOP_KEY) != "over_budget"]
    assert len(mine) == len(stored), (len(mine), len(stored))
    for (forced, reply), kept in zip(mine, stored, strict=True):
        if forced:  # the forced last call has no tools: its calls are dropped by design
            continue
        assert [(c["name"], c["args"]) for c in kept.tool_calls] == [
            (c["name"], c["args"]) for c in reply.tool_calls]
        assert [b["args"] for b in kept.invalid_tool_calls] == [
            b["args"] for b in reply.invalid_tool_calls]
        seen: set[str] = set()
        pairs = [*zip(reply.tool_calls, kept.tool_calls, strict=True),
                 *zip(reply.invalid_tool_calls, kept.invalid_tool_calls, strict=True)]
        for before, after in pairs:
            if before["id"] and before["id"] not in seen:
                assert after["id"] == before["id"], "a usable id was rewritten"
            seen.add(after["id"] or "")


def delegation(msg: ToolMessage) -> DelegationResult:
    """Parse a delegation/refusal ToolMessage (fails the test when it is not one)."""
    try:
        return DelegationResult.from_message(msg)
    except ValidationError as exc:  # pragma: no cover - reported as a property failure
        pytest.fail(f"not a DelegationResult: {str(msg.content)[:300]!r}: {exc}")


def call_key(name: str, args: Any) -> tuple[str, str]:
    return name, json.dumps(args, sort_keys=True, default=str)


def twins(calls: list[ToolCall]) -> list[str | None]:
    """Per call of one reply: the id of an earlier identical call of that reply ("" when it has
    none yet), None for the first of its kind. The runtime runs the first only."""
    first: dict[tuple[str, str], str] = {}
    out: list[str | None] = []
    for c in calls:
        key = call_key(c["name"], c["args"])
        out.append(first.get(key))
        first.setdefault(key, c["id"] or "")
    return out


def duplicate_text(first: str) -> str:
    """The text answering a call (not a delegation) that duplicates the call ``first``."""
    return f"Not run: duplicate of call {first} in this reply."


def repeats(turns: list[AIMessage]) -> list[bool]:
    """Per turn: whether it repeats a call of an earlier turn (the runtime's loop guard)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for turn in turns:
        keys = {call_key(c["name"], c["args"]) for c in turn.tool_calls}
        out.append(bool(keys & seen))
        seen |= keys
    return out


def delegates(name: str, oracle: dict[str, Any]) -> bool:
    """Whether a tool name addresses a sub-agent (``task``, ``task_<x>``, a per-agent tool)."""
    return (name == "task" or name.startswith("task_")
            or (name in oracle["children"] and not name.startswith("task:")))


Refused = tuple[str, str, str]
"""(tool_call_id, agent the call names or else its tool name, status) of one refusal."""


def refused_events(events: list[BaseEvent], parent: tuple[str, ...]) -> Counter[Refused]:
    """The delegations ``parent`` refused, from its events: each a ``subagent_start`` then a
    ``subagent_end`` with ``refused=True`` at the child's path, no usage."""
    started: set[tuple[tuple[str, ...], str | None]] = set()
    out: Counter[Refused] = Counter()
    for e in events:
        if tuple(e.path[:-1]) != parent:
            continue
        if isinstance(e, SubagentStart):
            started.add((tuple(e.path), e.tool_call_id))
        elif isinstance(e, SubagentEnd) and e.refused:
            assert (tuple(e.path), e.tool_call_id) in started, e
            assert e.usage == {} and e.result is None and e.error, e
            # the tool result's JSON turns lone surrogates into '?' (see results.json_text)
            agent = e.agent.encode("utf-8", "replace").decode("utf-8")
            out[(e.tool_call_id or "", agent, e.status.value)] += 1
    return out


def listening(events: list[BaseEvent] | None) -> dict[str, Any] | None:
    """A run config whose listener collects every event into ``events`` (None: no listener)."""
    return None if events is None else dict(observe(on_event=events.append)[1])


async def arun(graph: Any, text: str = "go", events: list[BaseEvent] | None = None
               ) -> dict[str, Any]:
    out: dict[str, Any] = await asyncio.wait_for(
        graph.ainvoke({"messages": [HumanMessage(text)]}, listening(events)), timeout=TIMEOUT)
    return out


def srun(graph: Any, events: list[BaseEvent] | None = None) -> dict[str, Any]:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        out: dict[str, Any] = pool.submit(
            graph.invoke, {"messages": [HumanMessage("go")]}, listening(events)
        ).result(timeout=TIMEOUT)
    return out


def no_stray_tasks() -> None:
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not left, f"tasks left running after the run: {left}"


# --------------------------------------------------------------------------- argument shapes

objectives = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(SPECIAL),
                       st.sampled_from(HUGE))
TASK_FIELDS = {"agent": st.sampled_from(["alpha", "beta"]) | names, "objective": objectives,
               "context": strings, "background": st.booleans()}
PER_AGENT_FIELDS = {"objective": objectives, "context": strings, "background": st.booleans()}
QUERY_FIELDS = {"query": strings, "limit": st.integers(-3, 120), "background": st.booleans()}
ID_VALUES = st.one_of(st.builds(Own, st.integers(0, 3)), st.just(Foreign()),
                      st.sampled_from(["bg_0", "bg_999999999", "", "\x00", "\ud800"]), values)
LIFECYCLE_FIELDS = {
    "agent_status": {"id": ID_VALUES},
    "agent_cancel": {"id": ID_VALUES},
    "agent_await": {"ids": st.lists(ID_VALUES, max_size=4) | ID_VALUES,
                    "mode": st.sampled_from(AWAIT_MODES) | strings | values},
}


def fuzz_call(options: dict[str, dict[str, st.SearchStrategy[Any]] | None]
              ) -> st.SearchStrategy[ToolCall]:
    """A call to one of ``options`` (name -> fields, None: any args) or to an unknown name."""
    def build(name: str) -> st.SearchStrategy[ToolCall]:
        fields = options.get(name)
        args = args_like(fields) if fields is not None else st.dictionaries(
            st.text(max_size=8), values, max_size=3)
        return st.builds(tc, st.just(name), args)

    known = st.sampled_from(sorted(options)).flatmap(build)
    unknown = names.flatmap(build)
    return st.one_of(known, known, known, unknown)


def valid_objective(args: dict[str, Any]) -> bool:
    objective, context = args.get("objective"), args.get("context", "") or ""
    return isinstance(objective, str) and bool(objective.strip()) and isinstance(context, str)


def expect(name: str, args: dict[str, Any], *, root_tools: set[str], children: dict[str, str],
           lifecycle: set[str], background: bool, async_: bool, depth: int = 1) -> str:
    """The oracle: what a call should end as ('tool', 'lifecycle', or a Status value).

    ``children``: tool name -> child name ("task" entries are keyed ``task:<child>``).
    """
    if name in root_tools:
        return "tool"
    if name in lifecycle:
        return "lifecycle"
    per_agent = {t: c for t, c in children.items() if not t.startswith("task:")}
    via_task = {t.removeprefix("task:") for t in children if t.startswith("task:")}
    if name == "task" or name.startswith("task_") or name in per_agent:
        if name in per_agent:
            child = per_agent[name]
        elif name == "task" and str(args.get("agent", "")) in via_task:
            child = str(args.get("agent", ""))
        else:
            return Status.UNKNOWN_AGENT.value
        if depth == 0:
            return Status.DEPTH_EXCEEDED.value
        rest = {k: v for k, v in args.items() if k != "background"}
        if child == "searcher":
            try:
                Query.model_validate(rest)
            except ValidationError:
                return Status.FAILED.value
        elif not valid_objective(rest):
            return Status.FAILED.value
        if args.get("background") is True:
            return Status.RUNNING.value if (async_ and background) else Status.FAILED.value
        return Status.COMPLETED.value
    return Status.FORBIDDEN_TOOL.value


# --------------------------------------------------------------------------- graphs

TURNS = Turns()
ROOT_MODEL = RawModel(policy=TURNS.policy("root"))
ALPHA = Agent(name="alpha", description="first", model=CHILD)
BETA = Agent(name="beta", description="second", model=CHILD)
TASK_GRAPH = compile_agent(Agent(name="root", model=ROOT_MODEL, tools=[probe],
                                 subagents=[ALPHA, BETA]))
TASK_ORACLE: dict[str, Any] = {"root_tools": {"probe"}, "lifecycle": set(), "background": False,
                               "children": {"task:alpha": "alpha", "task:beta": "beta"}}

BOSS_TURNS = Turns()
BOSS_MODEL = RawModel(policy=BOSS_TURNS.policy("boss"))
WRITER = Agent(name="writer", model=CHILD)
SEARCHER = Agent(name="searcher", model=CHILD, input_schema=Query)
PER_AGENT_GRAPH = compile_agent(Agent(name="boss", model=BOSS_MODEL, tools=[probe],
                                      subagents=[WRITER, SEARCHER], delegation="per_agent"))
PER_AGENT_ORACLE: dict[str, Any] = {
    "root_tools": {"probe"}, "lifecycle": set(), "background": False,
    "children": {"task_writer": "writer", "task_searcher": "searcher"}}

LEAD_TURNS = Turns()
LEAD_MODEL = RawModel(policy=LEAD_TURNS.policy("lead"))
WORKER = Agent(name="worker", model=CHILD, tools=[nap])
LEAD_GRAPH = compile_agent(Agent(name="lead", model=LEAD_MODEL, subagents=[WORKER],
                                 background=True))
LEAD_ORACLE: dict[str, Any] = {
    "root_tools": set(), "lifecycle": {"agent_status", "agent_cancel", "agent_await"},
    "background": True, "children": {"task:worker": "worker"}}
QUEUED_MODES = ("allSettled", "race")
QUEUED_GRAPH = compile_agent(Agent(
    name="lead", model=LEAD_MODEL, subagents=[WORKER],
    background=BackgroundConfig(max_concurrent=1, timeout=0.2, await_modes=QUEUED_MODES)))
"""The same lead with a FIFO queue of one, a timeout and two await modes only."""


def check_run(out: dict[str, Any], model: RawModel, root: str, oracle: dict[str, Any], *,
              async_: bool, start: int, child_calls_before: int,
              executed_before: int, events: list[BaseEvent]) -> None:
    """The shared assertions of the delegation and lifecycle properties.

    Calls the runtime does not run answer a delegation with a typed ``failed`` result (not
    JSON, repeated, duplicate, invalid arguments) and any other tool with a text; ``events``
    must hold exactly one refused ``subagent_start``/``subagent_end`` pair per delegation the
    runtime refused (a valid background call under sync invoke, or on a parent without
    background delegation, is refused: it "needs an async run").
    """
    messages = out["messages"]
    turns = answered_turns(messages)
    same_calls(model.log[start:], root, [m for m in messages if isinstance(m, AIMessage)])
    repeated = repeats([t for t, _ in turns])
    completed = 0
    probe_ok: list[str] = []
    want_refused: Counter[Refused] = Counter()

    def refused(answer: ToolMessage, status: Status, why: str) -> None:
        res = delegation(answer)
        assert answer.status == "error" and res.status is status, res
        assert why in (res.error or ""), res
        want_refused[(answer.tool_call_id, res.agent or answer.name or "", status.value)] += 1

    for (turn, answers), guard in zip(turns, repeated, strict=True):
        for bad in turn.invalid_tool_calls:
            answer = answers[bad["id"] or ""]
            if delegates(bad["name"] or "", oracle):
                refused(answer, Status.FAILED, "not valid JSON")
            else:
                assert answer.status == "error" and "not valid JSON" in str(answer.content)
        for call, first in zip(turn.tool_calls, twins(turn.tool_calls), strict=True):
            answer = answers[call["id"] or ""]
            if guard and delegates(call["name"], oracle):
                refused(answer, Status.FAILED, "repeats an earlier identical tool call")
                continue
            if guard:
                assert answer.content == REPEATED and answer.status == "error"
                continue
            if first is not None:  # identical to an earlier call of this reply: not run
                GENERATED["(of which duplicates in one reply)"] += 1
                if delegates(call["name"], oracle):
                    refused(answer, Status.FAILED, f"duplicate of call {first} in this reply")
                else:
                    assert answer.content == duplicate_text(first), answer.content
                    assert answer.status == "error"
                continue
            want = expect(call["name"], call["args"], async_=async_, **oracle)
            if want == "tool":
                if answer.status != "error":
                    probe_ok.append(str(answer.content))
                continue
            if want == "lifecycle":
                data = json.loads(str(answer.content))
                assert isinstance(data, dict) and data.get("status") in JOB_STATUSES, data
                continue
            res = delegation(answer)
            assert res.status.value == want, (call["name"], call["args"], res)
            if res.status in (Status.UNKNOWN_AGENT, Status.DEPTH_EXCEEDED):
                refused(answer, res.status, "")
            elif want == Status.FAILED.value:  # invalid arguments, else "needs async"
                invalid = expect(call["name"], {k: v for k, v in call["args"].items()
                                                if k != "background"},
                                 async_=async_, **oracle) == want
                refused(answer, Status.FAILED,
                        "invalid arguments for " if invalid else "needs an async run")
            if want == Status.COMPLETED.value:
                completed += 1
                child = oracle["children"].get(call["name"]) or call["args"]["agent"]
                task = call["args"].get("objective", "")
                if isinstance(task, str) and task.startswith("SENTINEL"):
                    assert res.result == child_answer(child, task)  # the sibling is intact
            if want == Status.RUNNING.value:
                assert str(res.model_extra.get("id", "")).startswith("bg_")  # type: ignore[union-attr]
    assert len(CHILD.calls) - child_calls_before >= completed
    if not oracle["background"]:  # background children may also run after the turn
        assert len(CHILD.calls) - child_calls_before == completed
    ran = [arg for tool_name, arg in EXECUTED[executed_before:] if tool_name == "probe"]
    assert Counter(ran) == Counter(probe_ok)
    assert refused_events(events, (root,)) == want_refused


# --------------------------------------------------------------------------- properties

task_turn = st.lists(fuzz_call({"task": TASK_FIELDS, "probe": {"text": strings},
                                "task_alpha": PER_AGENT_FIELDS, "agent_status": None}),
                     min_size=1, max_size=5)


@SETTINGS
@given(turns=st.lists(task_turn, min_size=1, max_size=2), sentinel_at=st.integers(0, 5),
       with_probe=st.booleans())
async def test_task_tool_answers_every_call_once(turns: list[list[ToolCall]], sentinel_at: int,
                                                 with_probe: bool) -> None:
    """``task`` with any arguments: typed results, one per call, valid siblings intact."""
    replies = []
    for calls in turns:
        calls = list(calls)
        calls.insert(sentinel_at % (len(calls) + 1), sentinel_task("beta"))
        if with_probe:
            calls.append(tc("probe", {"text": f"SENTINEL probe {next(_nonce)}"}))
        replies.append(AIMessage(content="", tool_calls=calls))
        GENERATED["task (async)"] += len(calls)
    TURNS.turns = replies
    start, before, executed = len(ROOT_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(TASK_GRAPH, events=events)
    check_run(out, ROOT_MODEL, "root", TASK_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    if with_probe:  # the valid probe sibling ran and returned its text (unless a repeat)
        assert any(str(m.content).startswith("SENTINEL probe") for m in out["messages"]
                   if isinstance(m, ToolMessage))


per_agent_turn = st.lists(fuzz_call({"task_writer": PER_AGENT_FIELDS,
                                     "task_searcher": QUERY_FIELDS,
                                     "task": TASK_FIELDS, "task_ghost": PER_AGENT_FIELDS,
                                     "probe": {"text": strings}}),
                          min_size=1, max_size=5)


@SETTINGS
@given(calls=per_agent_turn, sentinel_at=st.integers(0, 5))
async def test_per_agent_tools_answer_every_call_once(calls: list[ToolCall],
                                                      sentinel_at: int) -> None:
    """``task_<name>`` (one with a pydantic input_schema) with any arguments."""
    calls = list(calls)
    sentinel = tc("task_searcher", {"query": "SENTINEL q", "limit": 3}, "sent_q")
    calls.insert(sentinel_at % (len(calls) + 1), sentinel)
    calls.append(sentinel_task(tool="task_writer"))
    GENERATED["task_<name> (async)"] += len(calls)
    BOSS_TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    start, before, executed = len(BOSS_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(PER_AGENT_GRAPH, events=events)
    check_run(out, BOSS_MODEL, "boss", PER_AGENT_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    answer = next(m for m in out["messages"] if isinstance(m, ToolMessage)
                  and m.tool_call_id == "sent_q")
    assert delegation(answer).result == "searcher did SENTINEL q"


_foreign: list[str] = []


async def foreign_id() -> str:
    """A background id spawned by another run of another graph."""
    if not _foreign:
        turns = Turns()
        other = compile_agent(Agent(name="other", model=RawModel(policy=turns.policy("other")),
                                    subagents=[Agent(name="helper", model=CHILD)],
                                    background=True))
        turns.turns = [AIMessage(content="", tool_calls=[
            tc("task", {"agent": "helper", "objective": "x", "background": True}, "f1")])]
        out = await arun(other)
        msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
        _foreign.append(json.loads(str(msg.content))["id"])
    return _foreign[0]


def own_ids(messages: list[BaseMessage]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == "task":
            data = json.loads(str(m.content))
            if data.get("status") == "running":
                out.append(data["id"])
    return out


spawn_turn = st.lists(fuzz_call({"task": {**TASK_FIELDS, "agent": st.just("worker")}}),
                      max_size=3)
lifecycle_turn = st.lists(fuzz_call(LIFECYCLE_FIELDS), min_size=1, max_size=5)


@SETTINGS
@given(spawn=spawn_turn, slow=st.lists(st.booleans(), min_size=1, max_size=3),
       checks=lifecycle_turn, queued=st.booleans())
async def test_lifecycle_tools_answer_every_call_once(spawn: list[ToolCall], slow: list[bool],
                                                      checks: list[ToolCall],
                                                      queued: bool) -> None:
    """agent_status/agent_cancel/agent_await with own, foreign, unknown and ill-typed ids."""
    graph, modes = (QUEUED_GRAPH, QUEUED_MODES) if queued else (LEAD_GRAPH, tuple(AWAIT_MODES))
    foreign = await foreign_id()
    spawns = [tc("task", {"agent": "worker", "objective": f"{'SLOWJOB' if s else 'quick'} "
                          f"{next(_nonce)}", "background": True}) for s in slow]
    GENERATED["task background (async)"] += len(spawn) + len(spawns)
    GENERATED["lifecycle (async)"] += len(checks) + 1

    def second(messages: list[BaseMessage]) -> AIMessage:
        own = own_ids(messages)
        calls = [tc(c["name"], resolve(c["args"], own, foreign)) for c in checks]
        calls.append(tc("agent_status", {"id": own[0]}, "sent_status"))
        return AIMessage(content="", tool_calls=calls)

    LEAD_TURNS.turns = [AIMessage(content="", tool_calls=[*spawns, *spawn]), second]
    start, before, executed = len(LEAD_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(graph, events=events)
    no_stray_tasks()
    check_run(out, LEAD_MODEL, "lead", LEAD_ORACLE, async_=True, start=start,
              child_calls_before=before, executed_before=executed, events=events)
    own = own_ids(out["messages"])
    assert len(own) >= len(spawns)
    results = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    ai_turns = [m for m in out["messages"] if isinstance(m, AIMessage)]
    if repeats(ai_turns)[1]:  # turn 2 repeated a turn-1 call: the loop guard answered it
        return
    ai_turn = ai_turns[1]
    dup_of = dict(zip([c["id"] for c in ai_turn.tool_calls], twins(ai_turn.tool_calls),
                      strict=True))
    if dup_of["sent_status"] is None:  # (checked by check_run when it duplicates a call)
        assert json.loads(str(results["sent_status"].content))["id"] == own[0]  # intact
    for call in ai_turn.tool_calls:
        if call["name"] not in LEAD_ORACLE["lifecycle"] or dup_of[call["id"]] is not None:
            continue
        data, args = json.loads(str(results[call["id"] or ""].content)), call["args"]
        if call["name"] in ("agent_status", "agent_cancel"):
            if args.get("id") in own:
                assert data.get("id") == args["id"]
            else:  # foreign, unknown or ill-typed: refused, never looked up elsewhere
                assert data["status"] == "failed" and data["error"], data
        else:
            ids = args.get("ids")
            ids = [ids] if isinstance(ids, str) else ids
            mode = args.get("mode", modes[0])
            ok = (isinstance(ids, list) and bool(ids) and all(i in own for i in ids)
                  and isinstance(mode, str) and mode in modes)
            if not ok:
                assert data["status"] == "failed" and data["error"], data
            else:
                assert {r["id"] for r in data["results"]} <= set(own)


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


# --------------------------------------------------------------------------- refusals

D_TURNS = Turns()
D_MODEL = RawModel(policy=D_TURNS.policy("top"))
LEAF = Agent(name="leaf")
HOLDER = Agent(name="holder", tools=[secret])
MID = Agent(name="mid", subagents=[LEAF])
DEPTH_GRAPH = compile_agent(Agent(name="top", model=D_MODEL, tools=[probe],
                                  subagents=[MID, HOLDER], max_subagent_depth=1))
FLAT_TURNS = Turns()
FLAT_MODEL = RawModel(policy=FLAT_TURNS.policy("flat"))
FLAT_GRAPH = compile_agent(Agent(name="flat", model=FLAT_MODEL, tools=[probe],
                                 subagents=[Agent(name="leaf2")], max_subagent_depth=0))
OBJ = {"objective": "do it"}
objective_args = args_like({"objective": objectives, "context": strings}) | st.just(OBJ)


def forbidden_for(allowed_tools: set[str], allowed_agents: set[str]) -> st.SearchStrategy[
        ToolCall]:
    """Calls outside an agent's allow list (tools, sub-agents, lifecycle, unknown names)."""
    tools = (st.sampled_from(["secret", "nap", "agent_status", "agent_await", "final_answer"])
             | names).filter(lambda n: n not in allowed_tools and n != "task"
                             and not n.startswith("task_"))
    agents = (st.sampled_from(["leaf", "top", "mid", "holder", "leaf2", "flat", "ghost"])
              | names).filter(lambda n: n not in allowed_agents)
    return st.one_of(
        st.builds(tc, tools, st.dictionaries(st.text(max_size=8), values, max_size=2)),
        st.builds(lambda a, args: tc("task", {**args, "agent": a}), agents, objective_args),
        st.builds(lambda a, args: tc(f"task_{a}", args),
                  st.sampled_from(["mid", "leaf", "holder", "top"]) | names, objective_args),
    )


def node_refusals(messages: list[BaseMessage]) -> Counter[Refused]:
    """The refusals of delegation calls in one agent's history (allow list, depth, duplicate:
    every delegation here that did not complete)."""
    out: Counter[Refused] = Counter()
    for _, answers in answered_turns(messages):
        for msg in answers.values():
            name = msg.name or ""
            if name == "task" or name.startswith("task_"):
                res = delegation(msg)
                if res.status is not Status.COMPLETED:
                    out[(msg.tool_call_id, res.agent or name, res.status.value)] += 1
    return out


DUPLICATE = "duplicate"
"""``refusals`` key of a call not run as a duplicate of an earlier call of its reply."""


def refusals(messages: list[BaseMessage]) -> Counter[str]:
    """Statuses of the refusal results in one agent's history (``DUPLICATE``: a duplicate)."""
    out: Counter[str] = Counter()
    for _, answers in answered_turns(messages):
        for msg in answers.values():
            if str(msg.content).startswith("Not run: duplicate of call "):
                out[DUPLICATE] += 1
            elif msg.name != "probe":
                res = delegation(msg)
                duplicate = "duplicate of call" in (res.error or "")
                out[DUPLICATE if duplicate else res.status.value] += 1
    return out


def firsts(calls: list[ToolCall]) -> tuple[list[ToolCall], int]:
    """The calls of one reply the runtime considers (the first of each identical set), and
    how many it answers as duplicates."""
    kept = [c for c, first in zip(calls, twins(calls), strict=True) if first is None]
    return kept, len(calls) - len(kept)


@SETTINGS
@given(top=st.lists(forbidden_for({"probe"}, {"mid", "holder"}), min_size=1, max_size=5),
       mid=st.lists(forbidden_for(set(), set()), min_size=1, max_size=5),
       via_mid=st.booleans())
async def test_allow_list_and_depth_refuse_before_execution(
        top: list[ToolCall], mid: list[ToolCall], via_mid: bool) -> None:
    """Out-of-list tools/agents and depth-0 delegation: refused in 100%, never executed."""
    # top's own forbidden calls, plus (via_mid) a valid delegation to mid, whose every call
    # is forbidden: depth 0 for task(leaf), unknown agents, tools it was not given.
    calls = list(top) + ([tc("task", {"agent": "mid", "objective": "m"}, "to_mid")]
                         if via_mid else [])
    D_TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    D_TURNS.by_agent = {"mid": [AIMessage(content="", tool_calls=list(mid))]}
    GENERATED["forbidden (allow list/depth)"] += len(top) + (len(mid) if via_mid else 0)
    start, executed = len(D_MODEL.log), len(EXECUTED)
    events: list[BaseEvent] = []
    out = await arun(DEPTH_GRAPH, events=events)
    log = D_MODEL.log[start:]
    ran = Counter(a for a, *_ in log)
    assert ran["leaf"] == ran["holder"] == 0, ran
    assert [x for x in EXECUTED[executed:] if x[0] == "secret"] == []
    got = refusals(out["messages"])
    if via_mid:
        assert got.pop(Status.COMPLETED.value) == 1
    top_firsts, top_twins = firsts(top)
    want_top = Counter(expect(c["name"], c["args"], root_tools={"probe"}, lifecycle=set(),
                              background=False, async_=True,
                              children={"task:mid": "mid", "task:holder": "holder"})
                       for c in top_firsts) + Counter({DUPLICATE: top_twins})
    assert got == want_top and sum(got.values()) == len(top)
    top_refused = refused_events(events, ("top",))
    assert top_refused == node_refusals(out["messages"])
    assert sum(top_refused.values()) == sum(
        c["name"] == "task" or c["name"].startswith("task_") for c in top)
    if via_mid:
        mid_input = next(msgs for a, _, msgs, _ in log if a == "mid" and len(msgs) > 1)
        mid_firsts, mid_twins = firsts(mid)
        want_mid = Counter(expect(c["name"], c["args"], root_tools=set(), lifecycle=set(),
                                  background=False, async_=True, depth=0,
                                  children={"task:leaf": "leaf"}) for c in mid_firsts
                           ) + Counter({DUPLICATE: mid_twins})
        assert refusals(mid_input) == want_mid and sum(want_mid.values()) == len(mid)
        assert refused_events(events, ("top", "mid")) == node_refusals(mid_input)
        assert Status.COMPLETED.value not in want_mid


@SETTINGS
@given(calls=st.lists(st.builds(lambda args: tc("task", {**args, "agent": "leaf2"}),
                                objective_args), min_size=1, max_size=4))
def test_depth_zero_root_refuses_task_sync(calls: list[ToolCall]) -> None:
    """A root with max_subagent_depth=0 asking ``task`` (sync invoke): all depth_exceeded."""
    GENERATED["forbidden depth-0 root (sync)"] += len(calls)
    FLAT_TURNS.turns = [AIMessage(content="", tool_calls=list(calls))]
    start = len(FLAT_MODEL.log)
    events: list[BaseEvent] = []
    out = srun(FLAT_GRAPH, events=events)
    assert Counter(a for a, *_ in FLAT_MODEL.log[start:])["leaf2"] == 0
    kept, dups = firsts(calls)
    assert refusals(out["messages"]) == Counter({Status.DEPTH_EXCEEDED.value: len(kept),
                                                 DUPLICATE: dups})
    got = refused_events(events, ("flat",))
    assert got == node_refusals(out["messages"])
    assert {(agent, status) for _, agent, status in got} == {("leaf2", "depth_exceeded")} | (
        {("leaf2", "failed")} if dups else set())
    assert sum(got.values()) == len(calls)


_budget_graphs: dict[int, tuple[Turns, RawModel, Any]] = {}


def budget_graph(limit: int) -> tuple[Turns, RawModel, Any]:
    if limit not in _budget_graphs:
        turns = Turns()
        model = RawModel(policy=turns.policy("thrifty"))
        graph = compile_agent(Agent(name="thrifty", model=model,
                                    subagents=[Agent(name="spender", model=CHILD)],
                                    budget=Budget(max_model_calls=limit)))
        _budget_graphs[limit] = (turns, model, graph)
    return _budget_graphs[limit]


@SETTINGS
@given(limit=st.integers(1, 4), sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4))
async def test_budget_refuses_every_delegation_beyond_it(limit: int, sizes: list[int]) -> None:
    """Budget(max_model_calls): delegations past the budget end over_budget, never run.

    While budget is left a turn delegates once (parallel delegations overshoot: see the
    test below); once it is spent, every delegation of the turn must be refused.
    """
    turns, model, graph = budget_graph(limit)
    used, plan, executes, refused = 0, [], 0, 0
    for k in sizes:
        if used >= limit:
            break
        used += 1
        k = 1 if used < limit else k
        plan.append(k)
        if used < limit:
            used, executes = used + 1, executes + 1
        else:
            refused += k
    turns.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "spender", "objective": f"spend {next(_nonce)}"})
        for _ in range(k)]) for k in plan]
    GENERATED["forbidden (budget)"] += sum(plan)
    start, before = len(model.log), len(CHILD.calls_by("spender"))
    out = await arun(graph)
    spent = len(CHILD.calls_by("spender")) - before
    assert spent == executes
    assert len(model.log) - start + spent <= limit
    got = refusals(out["messages"])
    assert got.get(Status.OVER_BUDGET.value, 0) == refused
    assert got.get(Status.COMPLETED.value, 0) == executes
    assert out["usage"]["totals"]["model_calls"] <= limit


# --------------------------------------------------------------------------- sync invoke

@SETTINGS
@given(calls=task_turn, lifecycle=lifecycle_turn)
def test_sync_invoke_answers_every_call_once(calls: list[ToolCall],
                                             lifecycle: list[ToolCall]) -> None:
    """Sync ``invoke``: delegation fuzz; background and lifecycle calls fail clearly."""
    calls = [*calls, sentinel_task("alpha")]
    GENERATED["task (sync)"] += len(calls)
    TURNS.turns = [AIMessage(content="", tool_calls=calls)]
    start, before, executed = len(ROOT_MODEL.log), len(CHILD.calls), len(EXECUTED)
    events: list[BaseEvent] = []
    out = srun(TASK_GRAPH, events=events)
    check_run(out, ROOT_MODEL, "root", TASK_ORACLE, async_=False, start=start,
              child_calls_before=before, executed_before=executed, events=events)

    bg = [tc("task", {"agent": "worker", "objective": "quick", "background": True}, "bg"),
          *[tc(c["name"], resolve(c["args"], ["bg_1"], "bg_2")) for c in lifecycle]]
    GENERATED["lifecycle (sync)"] += len(bg)
    LEAD_TURNS.turns = [AIMessage(content="", tool_calls=bg)]
    out = srun(LEAD_GRAPH)
    turn, answers = answered_turns(out["messages"])[0]
    for call, first in zip(turn.tool_calls, twins(turn.tool_calls), strict=True):
        msg = answers[call["id"] or ""]
        if first is not None:
            assert msg.content == duplicate_text(first) and msg.status == "error"
            continue
        want = expect(call["name"], call["args"], async_=False, **LEAD_ORACLE)
        if want == "lifecycle":
            data = json.loads(str(msg.content))
            assert data["status"] == "failed" and "async" in data["error"], data
        else:
            assert delegation(msg).status.value == want, (call, msg.content)
    assert Status.FAILED.value == expect("task", bg[0]["args"], async_=False, **LEAD_ORACLE)
    assert "async" in (delegation(answers["bg"]).error or "")


# --------------------------------------------------------------------------- bugs found, now fixed


async def test_parallel_delegations_never_exceed_the_budget() -> None:
    turns, _, graph = budget_graph(2)
    turns.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "spender", "objective": f"spend {i}"}) for i in range(4)])]
    before = len(CHILD.calls_by("spender"))
    out = await arun(graph)
    spent = len(CHILD.calls_by("spender")) - before
    # root used 1 of 2 model calls: exactly one child may run, three must be over_budget
    assert spent == 1, f"{spent} children ran on a budget of one call"
    assert out["usage"]["totals"]["model_calls"] <= 2
    assert refusals(out["messages"])[Status.OVER_BUDGET.value] == 3


async def test_refusals_echoing_surrogate_names_parse() -> None:
    TURNS.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "gh\ud800st", "objective": "x"}, "s1"),
        tc("to\udfffol", {}, "s2")])]
    out = await arun(TASK_GRAPH)
    answers = answered_turns(out["messages"])[0][1]
    assert delegation(answers["s1"]).status is Status.UNKNOWN_AGENT
    assert delegation(answers["s2"]).status is Status.FORBIDDEN_TOOL


_INPUT_TURNS = Turns()
_INPUT_GRAPH = compile_agent(Agent(
    name="hub", model=RawModel(policy=_INPUT_TURNS.policy("hub")),
    subagents=[Agent(name="finder", model=CHILD, input_schema=Query)]))


async def test_task_tool_reaches_a_child_with_input_schema() -> None:
    _INPUT_TURNS.turns = [AIMessage(content="", tool_calls=[
        tc("task", {"agent": "finder", "objective": "find the config loader"}, "i1")])]
    before = len(CHILD.calls_by("finder"))
    out = await arun(_INPUT_GRAPH)
    res = delegation(answered_turns(out["messages"])[0][1]["i1"])
    assert res.status is Status.COMPLETED, res.error
    assert len(CHILD.calls_by("finder")) - before == 1


async def test_nested_non_string_keys_do_not_crash_the_run() -> None:
    TURNS.turns = [
        AIMessage(content="", tool_calls=[tc("probe", {"text": "a", "x": {1: "a", "b": 2}})]),
        AIMessage(content="", tool_calls=[tc("probe", {"text": "b"})]),
    ]
    out = await arun(TASK_GRAPH)
    assert out["messages"][-1].content == "done"
