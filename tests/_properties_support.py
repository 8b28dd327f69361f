"""Shared parts of the ``test_properties_*`` modules: recording tools and models, run
helpers, the oracles and the shared generators.

Properties under bad input: every tool call answered once, refusals never executed.

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
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SkipValidation, ValidationError

from _strategies import HUGE, SPECIAL, args_like, names, strings, values
from subagents import Agent, DelegationResult, LoopGuard, Status, compile_agent, observe
from subagents.events import BaseEvent, SubagentEnd, SubagentStart
from subagents.nodes.model import LIMIT_NUDGE, REPEAT_NUDGE
from subagents.nodes.plan import STOP_KEY
from subagents.nodes.schemas import LIFECYCLE
from subagents.testing import ScriptedChatModel, ai

TIMEOUT = 20.0
SETTINGS = settings(max_examples=100, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])
GENERATED: Counter[str] = Counter()
"""Generated tool-call argument sets per property (each module prints its own at its end)."""
JOB_STATUSES = {s.value for s in Status} - {"forbidden_tool", "unknown_agent",
                                             "depth_exceeded", "over_budget"}
REPEATED = "Not run: repeated call."
GUARD = LoopGuard(max_repeats=1)
"""The loop guard of the graphs ``check_run`` checks: the strictest, so that a second turn
repeating a call of the first (with a result that is no error) is refused."""


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    """Autouse in each property module that imports it: at the module's end, print the
    argument sets it generated."""
    before = GENERATED.copy()
    yield
    counts = GENERATED - before
    total = sum(n for k, n in counts.items() if not k.startswith("(of which"))
    print(f"\ngenerated tool-call argument sets: {dict(counts)} total={total}")


# --------------------------------------------------------------------------- recording parts

EXECUTED: list[tuple[str, Any]] = []
"""Every execution of a recording tool: (tool, argument)."""


@tool
def probe(text: str) -> str:
    """Echo text back (records every execution)."""
    EXECUTED.append(("probe", text))
    return text


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


def repeats(turns: list[tuple[AIMessage, dict[str, ToolMessage]]],
            max_repeats: int = GUARD.max_repeats) -> list[bool]:
    """Per answered turn: whether the loop guard refused it: one of its calls (not a lifecycle
    tool) repeats a call whose earlier identical calls (the first of each reply) already got
    the latest one's result ``max_repeats`` times, that latest result being no error (a text
    error, a typed ``failed`` or ``timeout`` is retried)."""
    seen: dict[tuple[str, str], list[str | None]] = {}
    out = []
    for turn, answers in turns:
        keys = [call_key(c["name"], c["args"]) for c in turn.tool_calls
                if c["name"] not in LIFECYCLE.values()]
        guard = any(seen.get(k) and seen[k][-1] is not None
                    and seen[k].count(seen[k][-1]) >= max_repeats for k in keys)
        out.append(guard)
        firsts: dict[tuple[str, str], ToolCall] = {}
        for c in turn.tool_calls:
            firsts.setdefault(call_key(c["name"], c["args"]), c)
        for key, c in firsts.items():
            seen.setdefault(key, []).append(result_text(answers.get(c["id"] or "")))
    return out


def result_text(answer: ToolMessage | None) -> str | None:
    """A call's result for the loop guard: None for a retry-worthy error."""
    if answer is None:
        return None
    if answer.status == "error":
        typed = isinstance(answer.artifact, dict) and "status" in answer.artifact
        if not typed or answer.artifact["status"] in ("failed", "timeout"):
            return None
    return str(answer.content)


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


# --------------------------------------------------------------------------- argument shapes

objectives = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(SPECIAL),
                       st.sampled_from(HUGE))
TASK_FIELDS = {"agent": st.sampled_from(["alpha", "beta"]) | names, "objective": objectives,
               "context": strings, "background": st.booleans()}
PER_AGENT_FIELDS = {"objective": objectives, "context": strings, "background": st.booleans()}


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
        flag = args.get("background")
        if flag is not None and not isinstance(flag, bool):  # no boolean: refused, not run
            return Status.FAILED.value
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
                                 subagents=[ALPHA, BETA], loop_guard=GUARD))
TASK_ORACLE: dict[str, Any] = {"root_tools": {"probe"}, "lifecycle": set(), "background": False,
                               "children": {"task:alpha": "alpha", "task:beta": "beta"}}


def check_run(out: dict[str, Any], model: RawModel, root: str, oracle: dict[str, Any], *,  # noqa: C901
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
    repeated = repeats(turns)
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
                flag = call["args"].get("background")
                invalid = (flag is not None and not isinstance(flag, bool)) or expect(
                    call["name"], {k: v for k, v in call["args"].items() if k != "background"},
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
