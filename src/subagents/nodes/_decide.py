"""What to do with one model reply: end, send tool calls, refuse, correct, or force an answer.

Pure functions over messages: no model call, no I/O.

Calls answered without being run (see ``nodes._refuse``): a call naming a delegation tool
(``task``, ``task_<name>``, a renamed per-agent tool) always gets the typed ``tool_result``
JSON, ``unknown_agent``, ``depth_exceeded`` or ``failed`` (arguments not JSON, a repeated call,
a duplicate of a call in the same reply, a call beside ``final_answer``), and is listed in
``Decision.refused`` for the model node's events. The agent's own and lifecycle tools get a
short error text when not run (LangChain's convention for tool errors); names it was not given
get the typed ``forbidden_tool``. ``final_answer`` corrections stay text: the model fixes its
schema from them.

The loop guard (``Agent.loop_guard``, see :class:`subagents.spec.guard.LoopGuard`): a reply with a
call whose identical earlier calls of the task already got the same result ``max_repeats``
times runs none of its calls and forces a last answer; the agent then ends ``failed`` with the
error "stopped by the loop guard: ..." (a schema agent that still gives a valid
``final_answer`` ends ``completed``). Lifecycle tools and retries of a call that ended in an
error are never refused. A call identical to an earlier call of the same reply (same name,
same arguments: small local models do this) is not run, its first occurrence is.

A text answer (no tool calls, not forced) of an agent with ``answer_check`` ends only when the
check returns None; its correction is sent back like the output-schema nudge, at most
``max_output_retries`` times, then the agent ends ``completed`` with stop reason
``answer_check`` and the complaint as error.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolCall, ToolMessage
from langgraph.graph import END
from langgraph.types import Command, Send
from pydantic import ValidationError

from subagents.nodes._refuse import (
    BESIDE_FINAL,
    REPEATED,
    Refusal,
    addressed,
    delegates,
    duplicate,
    duplicates,
    not_run,
    refuse,
)
from subagents.nodes._turn import Turn
from subagents.nodes.plan import NUDGE_KEY, STOP_KEY, AgentPlan, ChildLink
from subagents.nodes.schemas import FINAL_ANSWER, LIFECYCLE, validation_text
from subagents.nodes.state import STRUCTURED_KEY
from subagents.results import Status, tool_result
from subagents.spec import Agent, AnswerCheck

__all__ = ["ANSWER_CHECK", "ERROR_KEY", "LOOP_STOP", "Decision", "Refusal", "decide", "mark_stop",
           "over_budget"]

ANSWER_CHECK = "answer_check"
"""Stop reason of an agent whose text answer its ``answer_check`` still rejected at the bound."""

ERROR_KEY = "subagents_error"
"""``response_metadata`` key holding why the runtime ended an agent short of an answer (no
valid output schema, the loop guard's reason)."""
LOOP_STOP = "repeated_tool_call"
"""Stop reason of an agent the loop guard stopped."""
_POLLS = frozenset(LIFECYCLE.values())
"""Tools the loop guard never refuses: their results change over time."""
_UNSET: Any = object()
_SCHEMA_NUDGE = "You must finish by calling the final_answer tool with your answer."


@dataclass(slots=True)
class Decision:
    """The model node's decision for one reply.

    Attributes:
        messages: what to append to the agent's history (the reply first).
        sends: one ``Send`` per tool call to execute.
        done: the agent has ended.
        structured: the validated output schema instance, when accepted.
        force_final: make one last call without tools before ending (the loop guard).
        stop: the runtime reason the agent ended, if any (``max_steps``, ...).
        error: why, when the runtime says more than the stop reason (the loop guard's call).
        refused: the delegation calls answered with a refusal in ``messages``, in their
            order there (each record made where its refusal was decided).
    """

    messages: list[AnyMessage]
    sends: list[Send] = field(default_factory=list)
    done: bool = False
    structured: Any = _UNSET
    force_final: bool = False
    stop: str | None = None
    refused: list[Refusal] = field(default_factory=list)
    error: str | None = None

    def refuse(self, answers: list[ToolMessage], refused: list[Refusal]) -> None:
        """Append the answers of calls that are not run, and the refusals among them."""
        self.messages.extend(answers)
        self.refused.extend(refused)

    def command(self) -> Command[Any]:
        """The node's ``Command``: END, the sends, or back to the model."""
        update: dict[str, Any] = {"messages": self.messages}
        if self.structured is not _UNSET:
            update[STRUCTURED_KEY] = self.structured
        goto: Any = END if self.done else (self.sends or "model")
        return Command(update=update, goto=goto)


def mark_stop(messages: list[AnyMessage], reason: str, error: str | None = None) -> None:
    """Record on the last AI message why the runtime ended the agent (in place)."""
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if isinstance(msg, AIMessage):
            meta = {**msg.response_metadata, STOP_KEY: reason}
            if error:
                meta[ERROR_KEY] = error
            messages[i] = msg.model_copy(update={"response_metadata": meta})
            return


Fixes = tuple[list[ToolMessage], list[Refusal]]
"""The answers to a reply's unparsable calls, and the refusals among them."""


def _normalise(plan: AgentPlan, ai: AIMessage) -> tuple[AIMessage, Fixes]:
    """Give every tool call a unique id; answer unparsable calls with an error result.

    An unparsable delegation call gets a typed ``failed`` result (a refusal), any other call
    a text.
    """
    if not ai.invalid_tool_calls and _ids_ok(ai.tool_calls):
        return ai, ([], [])
    seen: set[str] = set()

    def unique(given: str | None) -> str:
        tid = given or ""
        if not tid or tid in seen:
            tid = f"call_{uuid.uuid4().hex[:16]}"
        seen.add(tid)
        return tid

    calls: list[ToolCall] = [{**tc, "id": unique(tc.get("id"))} for tc in ai.tool_calls]
    fixes: list[ToolMessage] = []
    refused: list[Refusal] = []
    invalid = []
    delegation = plan.delegation_tools if ai.invalid_tool_calls else {}
    for bad in ai.invalid_tool_calls:
        tid, name, why = unique(bad.get("id")), bad.get("name") or "", bad.get("error")
        invalid.append({**bad, "id": tid})
        reason = f"the arguments of '{name}' are not valid JSON" + (f": {why}" if why else "")
        if delegates(name, delegation):
            msg, refusal = refuse(plan, name, tid, None, Status.FAILED,
                                  f"invalid arguments: {reason}; nothing was run", delegation)
            fixes.append(msg)
            refused.append(refusal)
        else:
            fixes.append(ToolMessage(content=f"Error: {reason}", tool_call_id=tid, name=name,
                                     status="error"))
    if calls != ai.tool_calls or invalid != ai.invalid_tool_calls:
        ai = ai.model_copy(update={"tool_calls": calls, "invalid_tool_calls": invalid})
    return ai, (fixes, refused)


def _ids_ok(calls: list[ToolCall]) -> bool:
    """Every call has an id and no two share one (the common case: nothing to fix)."""
    ids = [tc.get("id") for tc in calls]
    return all(ids) and len(set(ids)) == len(ids)


def _final_answer(plan: AgentPlan, tc: ToolCall) -> tuple[Any, str | None]:
    schema = plan.agent.output_schema
    assert schema is not None
    try:
        return schema.model_validate(tc["args"]), None
    except ValidationError as exc:
        return None, validation_text(exc)


def _forced(plan: AgentPlan, ai: AIMessage, reason: str, error: str | None) -> Decision:
    """End now: accept a valid final_answer, otherwise keep the text as the partial result."""
    if plan.agent.output_schema is not None:
        for tc in ai.tool_calls:
            if tc["name"] == FINAL_ANSWER:
                value, _ = _final_answer(plan, tc)
                if value is not None:
                    ok = ToolMessage(content="Final answer accepted.", tool_call_id=tc["id"] or "",
                                     name=FINAL_ANSWER)
                    return Decision([ai.model_copy(update={"tool_calls": [tc]}), ok],
                                    done=True, structured=value)
    text_only = ai.model_copy(update={"tool_calls": [], "invalid_tool_calls": []})
    messages: list[AnyMessage] = [text_only]
    mark_stop(messages, reason, error)
    return Decision(messages, done=True, stop=reason)


def _schema_step(plan: AgentPlan, turn: Turn, ai: AIMessage, fixes: Fixes) -> Decision:
    """Handle a reply of an agent with output schema that called final_answer or nothing."""
    retries_left = turn.retries < plan.agent.max_output_retries
    fa = next((tc for tc in ai.tool_calls if tc["name"] == FINAL_ANSWER), None)
    fixed, fix_refused = fixes
    if fa is None:
        if retries_left:
            ask = HumanMessage(content=_SCHEMA_NUDGE, additional_kwargs={NUDGE_KEY: True})
            return Decision([ai, *fixed, ask], refused=fix_refused)
        messages: list[AnyMessage] = [ai, *fixed]
        mark_stop(messages, "output_invalid", "the agent ended without calling final_answer")
        return Decision(messages, done=True, stop="output_invalid", refused=fix_refused)
    skipped, refused = not_run(plan, [tc for tc in ai.tool_calls if tc is not fa], BESIDE_FINAL)
    refused.extend(fix_refused)
    value, error = _final_answer(plan, fa)
    if value is not None:
        ok = ToolMessage(content="Final answer accepted.", tool_call_id=fa["id"] or "",
                         name=FINAL_ANSWER)
        return Decision([ai, ok, *skipped, *fixed], done=True, structured=value,
                        refused=refused)
    bad = ToolMessage(content=f"Error: invalid final_answer: {error}. Fix it and call again.",
                      tool_call_id=fa["id"] or "", name=FINAL_ANSWER, status="error")
    if retries_left:
        return Decision([ai, bad, *skipped, *fixed], refused=refused)
    messages = [ai, bad, *skipped, *fixed]
    mark_stop(messages, "output_invalid", f"invalid final_answer: {error}")
    return Decision(messages, done=True, stop="output_invalid", refused=refused)


def decide(plan: AgentPlan, turn: Turn, ai: AIMessage, *, forced: bool,
           reason: str = "max_steps", error: str | None = None) -> Decision:
    """Decide what follows one model reply (see the module docstring of ``model``).

    Args:
        plan: the agent's compile-time facts.
        turn: what the current task has done so far.
        ai: the model's reply.
        forced: this was the last call (no tools): end now.
        reason: why it was forced (the stop reason recorded).
        error: the error recorded with it (None: the stop reason says it all).

    Returns:
        The decision; ``Decision.refused`` lists the delegation calls refused inline.
    """
    if forced:
        return _forced(plan, ai, reason, error)
    ai, fixes = _normalise(plan, ai)
    return _answer(plan, turn, ai, fixes)


def _answer(plan: AgentPlan, turn: Turn, ai: AIMessage, fixes: Fixes) -> Decision:
    """``decide`` for a normalised reply that was not forced."""
    schema = plan.agent.output_schema is not None
    fixed, fix_refused = fixes
    if schema and ((not ai.tool_calls and not fixed)
                   or any(tc["name"] == FINAL_ANSWER for tc in ai.tool_calls)):
        return _schema_step(plan, turn, ai, fixes)
    if not ai.tool_calls and not fixed:
        check = plan.agent.answer_check
        return Decision([ai], done=True) if check is None else _checked(plan, turn, ai, check)
    guard = plan.agent.loop_guard
    loop = None if guard is None else turn.looping(ai.tool_calls, guard.max_repeats, _POLLS)
    if loop is not None:
        skipped, refused = not_run(plan, ai.tool_calls, REPEATED)
        return Decision([ai, *fixed, *skipped], force_final=True, stop=LOOP_STOP,
                        error=loop.reason(), refused=[*fix_refused, *refused])
    return _route(plan, ai, fixes)


def _checked(plan: AgentPlan, turn: Turn, ai: AIMessage, check: AnswerCheck) -> Decision:
    """End with a text answer ``check`` accepts; else send its correction back, bounded."""
    complaint = check(ai.text, [*turn.history, ai])
    if not complaint:
        return Decision([ai], done=True)
    if turn.retries < plan.agent.max_output_retries:
        ask = HumanMessage(content=complaint, additional_kwargs={NUDGE_KEY: True})
        return Decision([ai, ask])
    messages: list[AnyMessage] = [ai]
    mark_stop(messages, ANSWER_CHECK, complaint)
    return Decision(messages, done=True, stop=ANSWER_CHECK)


def _route(plan: AgentPlan, ai: AIMessage, fixes: Fixes) -> Decision:
    """One ``Send`` per call to run; refusals, duplicates and unknown names answered inline."""
    out = Decision([ai, *fixes[0]], refused=fixes[1])
    delegation = plan.delegation_tools
    # Background calls only spawn a job and answer "running" at once: one Send per child
    # node carries all of them (``{"tool_calls": [...]}``), not one LangGraph task each.
    batches: dict[str, list[ToolCall]] = {}
    twins = duplicates(ai.tool_calls)  # {} at once unless two calls share a name
    for i, tc in enumerate(ai.tool_calls):
        name, tid = tc["name"], tc["id"] or ""
        if twins and i in twins:
            out.refuse(*not_run(plan, [tc], duplicate(twins[i])))
        elif name in plan.tools:
            out.sends.append(Send("tools", {"tool_call": tc}))
        elif name in plan.lifecycle:
            out.sends.append(Send("lifecycle", {"tool_call": tc}))
        elif delegates(name, delegation):
            target = _child_for(plan, tc, delegation)
            if isinstance(target, tuple):
                out.refuse([target[0]], [target[1]])
            elif plan.background is not None and tc["args"].get("background") is True:
                if target not in batches:
                    batches[target] = []
                    out.sends.append(Send(target, {"tool_calls": batches[target]}))
                batches[target].append(tc)
            else:
                out.sends.append(Send(target, {"tool_call": tc}))
        else:
            valid = sorted([*plan.tools, *plan.lifecycle,
                            *(delegation if plan.can_delegate else {})])
            out.messages.append(tool_result(
                Status.FORBIDDEN_TOOL, name, tool_call_id=tid, tool_name=name,
                error=f"tool '{name}' is not available to {plan.agent.name}; "
                f"available tools: {', '.join(valid) or '(none)'}"))
    return out


def _child_for(plan: AgentPlan, tc: ToolCall, delegation: Mapping[str, ChildLink | None],
               ) -> str | tuple[ToolMessage, Refusal]:
    """The delegation node for a task call, or the refusal to answer it with instead."""
    name, tid = tc["name"], tc["id"] or ""
    link = delegation.get(name)
    agent = addressed(name, tc["args"], delegation)
    if link is None and name == "task":
        link = plan.children.get(agent) if agent in plan.children else None
    if link is None or (name == "task") != (link.tool == "task"):
        allowed = ", ".join(sorted(plan.children)) or "(none)"
        return refuse(plan, name, tid, tc["args"], Status.UNKNOWN_AGENT,
                      f"'{agent}' is not a sub-agent {plan.agent.name} may delegate to; "
                      f"allowed: {allowed}", delegation)
    if not plan.can_delegate or link.graph is None:
        return refuse(plan, name, tid, tc["args"], Status.DEPTH_EXCEEDED,
                      f"{plan.agent.name} may not delegate: the depth limit "
                      "(max_subagent_depth) is reached", delegation)
    return link.node


def over_budget(agent: Agent, reason: str) -> Decision:
    """End an agent whose budget is exhausted, without calling the model."""
    messages: list[AnyMessage] = [AIMessage(content=f"Stopped: {reason}", name=agent.name)]
    mark_stop(messages, "over_budget", reason)
    return Decision(messages, done=True, stop="over_budget")
