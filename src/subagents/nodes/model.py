"""The model node: one model call, then routing of its tool calls.

The node returns ``Command(goto=[Send(...), ...])``: one ``Send`` per tool call, to the
``tools`` node or to the delegation node of a child, so each delegation is its own LangGraph
task (its own pending write, resumed on its own ``tool_call_id`` after a crash). Refused
calls are answered inline with a typed tool result and never executed. Loop guards live here,
not in prompts: at the step limit, or when the loop guard sees a tool call that keeps getting
the same result, it gets one last call without tools and must answer from what it has.

The node is written once, as a sans-IO step (``_Model.step``, see
:mod:`subagents.runtime.steps`) run by ``drive`` for ``invoke`` and ``adrive`` for
``ainvoke``. What differs between the two is I/O, in requests: the model call (``Invoke``),
the budget reservation (``_Reserve``: waits on a condition or on the event loop), the
``max_seconds`` deadline around both (``Deadline``) and closing the
background table at the end (async runs only: background children need one).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolCall
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.types import Command, Send

from subagents.nodes._decide import LOOP_STOP, Decision, decide, over_budget
from subagents.nodes._emit import Emitter
from subagents.nodes._node import AgentNode, Deadline, Nested, step_node
from subagents.nodes._refuse import not_run
from subagents.nodes._turn import Turn, read_turn
from subagents.nodes.ending import ending
from subagents.nodes.lifecycle import parent_messages
from subagents.nodes.plan import NUDGE_KEY, AgentPlan
from subagents.nodes.schemas import final_answer_spec
from subagents.nodes.state import SPENT_KEY, STRUCTURED_KEY
from subagents.results import Status
from subagents.runtime.budget import (
    BudgetDeadline,
    BudgetTracker,
    Reservation,
    max_output_tokens,
    prompt_tokens,
)
from subagents.runtime.cost import model_price, price_call
from subagents.runtime.scope import RunScope, scope_of
from subagents.runtime.steps import Both, Invoke, Step

__all__ = ["LIMIT_NUDGE", "REPEAT_NUDGE", "make_model_node"]

LIMIT_NUDGE = (
    "Step limit reached: do not call any more tools. Answer now from the results above."
)
REPEAT_NUDGE = (
    "You repeated a tool call that already gave the same result several times; its result "
    "is above. Do not call any more tools. Answer now from the results above."
)


def _nudge(text: str) -> HumanMessage:
    return HumanMessage(content=text)


@dataclass(frozen=True, slots=True)
class _Reserve:
    """Reserve one model call's place in the tree's budget; it may wait for its turn.

    Its result is the ``Reservation``, or why the call may not be made.
    """

    budget: BudgetTracker
    estimate: Callable[[], int]
    worst: Callable[[], float]

    def run(self) -> Reservation | str:
        return self.budget.reserve_call(self.estimate, self.worst)

    async def arun(self) -> Reservation | str:
        return await self.budget.areserve_call(self.estimate, self.worst)


def _nothing() -> None:
    """A sync run has no background children to close (they need an async run)."""


class _Model:
    """The model node of one agent: its compile-time facts and its step."""

    def __init__(self, plan: AgentPlan) -> None:
        self.plan = plan
        agent = plan.agent
        self.bound: Runnable[Any, Any] = (
            plan.model.bind_tools(plan.tool_specs, **plan.bind_kwargs)
            if plan.tool_specs
            else plan.model
        )
        self.final: Runnable[Any, Any] = (
            plan.model.bind_tools([final_answer_spec(agent.output_schema)], **plan.bind_kwargs)
            if agent.output_schema is not None
            else plan.model
        )
        self.root = len(plan.path) == 1
        self.max_output = max_output_tokens(plan.model)
        self.price = plan.price if plan.price is not None else model_price(plan.model)
        self.system: list[AnyMessage] = (
            [SystemMessage(content=agent.system_prompt)] if agent.system_prompt else []
        )

    def step(self, state: dict[str, Any], config: RunnableConfig) -> Step[Command[Any]]:
        """One model call and what follows it (see :func:`make_model_node`)."""
        messages, scope = state["messages"], scope_of(config)
        if scope is not None and not scope.restored and scope.call is not None:
            scope.restore(state.get(SPENT_KEY))  # a resumed sub-agent goes on from its counters
        mail = parent_messages(scope, messages)  # a background child's agent_message follow-ups
        messages = [*messages, *mail] if mail else messages
        emit = Emitter(scope, config)
        turn, forced, runnable, request = self.request(messages)
        opening = self.opening(turn, forced, messages)
        if opening is not None:  # Agent.first_call: the task's first step, no model call
            got: AIMessage | Decision = opening
        else:
            got = yield from self.call(scope, runnable, request, emit)
        out = got if isinstance(got, Decision) else self.decide(scope, turn, got, forced, emit)
        if out.force_final:
            request = self.forced_request(messages, out)
            got = yield from self.call(scope, self.final, request, emit)
            out = self.finish(out, got)
        if out.done and scope is not None and scope.background is not None:
            # the agent ended: its unsettled background children are auto-cancelled
            yield Both(_nothing, scope.background.close)
        command = self.end(scope, out)
        if (turn.calls == 0 and state.get(STRUCTURED_KEY) is not None
                and isinstance(command.update, dict)):
            # a new task on a kept thread (a persistent child, a root's next turn): the last
            # task's structured answer is not this one's
            command.update.setdefault(STRUCTURED_KEY, None)
        if mail and isinstance(command.update, dict):
            command.update["messages"] = [*mail, *command.update["messages"]]
        return command

    def request(
        self, messages: list[AnyMessage]
    ) -> tuple[Turn, bool, Runnable[Any, Any], list[Any]]:
        """The turn so far, whether this is the forced last call, the runnable, its input."""
        turn = read_turn(messages)
        if turn.calls + 1 >= self.plan.agent.max_steps:
            return turn, True, self.final, [*self.system, *messages, _nudge(LIMIT_NUDGE)]
        return turn, False, self.bound, [*self.system, *messages] if self.system else messages

    def opening(self, turn: Turn, forced: bool, messages: list[AnyMessage]) -> AIMessage | None:
        """The AI message calling ``Agent.first_call`` at a task's start, else None.

        Made only before the task's first model call (not when that call is the forced
        last one: ``max_steps`` 1), with ``"{task}"`` set to the task message's text.
        """
        first = self.plan.agent.first_call
        if first is None or forced or turn.calls:
            return None
        task = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)
                     and not m.additional_kwargs.get(NUDGE_KEY)), "")
        call = ToolCall(name=first.tool, args=first.arguments(task),
                        id=f"call_first_{uuid.uuid4().hex[:16]}", type="tool_call")
        return AIMessage(content="", tool_calls=[call], name=self.plan.agent.name)

    def forced_request(self, messages: list[AnyMessage], out: Decision) -> list[Any]:
        return [*self.system, *messages, *out.messages, _nudge(REPEAT_NUDGE)]

    def decide(self, scope: RunScope | None, turn: Turn, ai: AIMessage, forced: bool,
               emit: Emitter) -> Decision:
        """What follows a reply (its tool calls run only with a tool round reserved)."""
        out = self.rounds(scope, decide(self.plan, turn, self._named(ai), forced=forced))
        emit.refusals(out.refused)
        return out

    def finish(self, out: Decision, final_ai: AIMessage | Decision) -> Decision:
        """End after the forced last call that followed ``out`` (the loop guard's).

        ``final_ai`` is a Decision when the budget refused that call.
        """
        if isinstance(final_ai, Decision):
            final_ai.messages = [*out.messages, *final_ai.messages]
            return final_ai
        done = decide(self.plan, Turn(), self._named(final_ai), forced=True,
                      reason=out.stop or LOOP_STOP, error=out.error)
        done.messages = [*out.messages, *done.messages]
        return done

    def call(self, scope: RunScope | None, runnable: Runnable[Any, Any], request: list[Any],
             emit: Emitter) -> Step[AIMessage | Decision]:
        """One model call, made only after it reserved its place in the tree's budget.

        Under a budget, an async run's call (its reservation included) is cancelled at the
        budget's ``max_seconds`` deadline.

        Returns:
            The reply, or the ``over_budget`` ending when the budget refused the call.
        """
        budget = scope.budget if scope is not None else None
        if budget is None:  # the common case: nothing to reserve, no deadline
            emit.model_start(len(request))
            ai: AIMessage = yield Invoke(runnable, request, emit.model_config())
            self.record(scope, ai, emit)
            return ai
        try:
            got: AIMessage | Decision = yield Deadline(
                budget, "a model call",
                Nested(self.budgeted(scope, budget, runnable, request, emit)))
        except BudgetDeadline as exc:
            return over_budget(self.plan.agent, str(exc))
        return got

    def budgeted(self, scope: RunScope | None, budget: BudgetTracker,
                 runnable: Runnable[Any, Any], request: list[Any],
                 emit: Emitter) -> Step[AIMessage | Decision]:
        """Reserve the call's place in the budget, make it, record it, settle it (tokens, USD)."""
        held = yield _Reserve(budget, lambda: self.estimate(request), lambda: self.worst(request))
        if isinstance(held, str):
            return over_budget(self.plan.agent, held)
        emit.model_start(len(request))
        used, cost = 0, None
        try:
            ai: AIMessage = yield Invoke(runnable, request, emit.model_config())
            used = _tokens(ai)
            cost = self.record(scope, ai, emit)
        finally:
            _settle(scope, held, used, cost)
        return ai

    def estimate(self, request: list[Any]) -> int:
        """Tokens to reserve for a request: its prompt estimate plus the max output tokens."""
        return prompt_tokens(request) + self.max_output

    def worst(self, request: list[Any]) -> float:
        """USD to reserve for a request: its prompt estimate and max output at the price."""
        return self.price.worst(prompt_tokens(request), self.max_output)

    def record(self, scope: RunScope | None, ai: AIMessage, emit: Emitter) -> float | None:
        """Record one model reply (and its cost in USD, returned) in the usage tree and events."""
        cost = price_call(scope.usage if scope is not None else None, self.price, ai)
        emit.model_end(ai, cost)
        return cost

    def rounds(self, scope: RunScope | None, out: Decision) -> Decision:
        """Reserve a tool round for a reply whose calls are to run.

        Without one the agent ends ``over_budget``, those calls answered "not run" (a
        delegation with a typed ``over_budget`` result, a refusal).
        """
        if not out.sends or scope is None or scope.budget is None:
            return out
        reason = scope.budget.reserve_round()
        if reason is None:
            scope.add_spent(tool_rounds=1)
            return out
        calls = [tc for send in out.sends for tc in _calls_of(send)]
        skipped, refused = not_run(self.plan, calls,
                                   (f"Not run: {reason}.", f"not run: {reason}"),
                                   Status.OVER_BUDGET)
        end = over_budget(self.plan.agent, reason)
        end.messages = [*out.messages, *skipped, *end.messages]
        end.refused = [*out.refused, *refused]
        return end
    def end(self, scope: RunScope | None, out: Decision) -> Command[Any]:
        """The node's Command; at the end, record the status (and the usage on the root).

        Under a budget of its compile-time lineage (``AgentPlan.budgeted``) it also writes the
        invocation's spent counters (``SPENT_KEY``) with every update, so a resumed run goes on
        from them.
        """
        command = out.command()
        if (self.plan.budgeted and scope is not None and scope.budget is not None
                and isinstance(command.update, dict)):
            command.update[SPENT_KEY] = scope.spent_record()
        if not out.done or scope is None:
            return command
        last = next((m for m in reversed(out.messages) if isinstance(m, AIMessage)), None)
        status = ending(self.plan.agent, last, out.structured).status
        scope.finish(status)
        if self.root and isinstance(command.update, dict):
            command.update["usage"] = scope.usage.to_dict()
        return command

    def _named(self, ai: AIMessage) -> AIMessage:
        name = self.plan.agent.name
        if ai.name is None:  # a fresh reply of this call: naming it in place spares a copy
            ai.name = name
        return ai if ai.name == name else ai.model_copy(update={"name": name})


def _settle(scope: RunScope | None, held: Reservation | str | None, used: int,
            cost: float | None) -> None:
    """Settle a model call's reservation with the tokens and USD it used (counted in the scope).

    An unknown ``cost`` counts the reserved worst case.
    """
    if isinstance(held, Reservation) and scope is not None:
        held.settle(used, cost)
        scope.add_spent(model_calls=1, tokens=used, cost=held.cost if cost is None else cost)


def _tokens(ai: AIMessage) -> int:
    usage = ai.usage_metadata
    return int(usage["total_tokens"]) if usage else 0


def _calls_of(send: Send) -> list[ToolCall]:
    """The tool calls one ``Send`` of the model node carries."""
    arg = send.arg if isinstance(send.arg, dict) else {}
    calls: list[ToolCall] = arg["tool_calls"] if "tool_calls" in arg else [arg["tool_call"]]
    return calls


def make_model_node(plan: AgentPlan) -> AgentNode:
    """Build the sync+async ``model`` node of one agent, written once as a step.

    The node reads ``state["messages"]``, calls the model (system prompt first), and returns a
    ``Command``: ``goto=END`` when the agent is done, a list of ``Send`` for its tool calls, or
    ``goto="model"`` when every call was refused or a correction was sent back. Each model
    call first reserves its place in the tree's budget (ending ``over_budget`` without the
    call), and a reply's tool calls run only once a tool round is reserved (else the agent
    ends ``over_budget``, its calls answered "not run"). Async model calls are cancelled at
    the budget's ``max_seconds`` deadline. When the agent ends, its unsettled background
    children are auto-cancelled (``BackgroundConfig.auto_cancel``) before the usage is reported.
    """
    return step_node(_Model(plan).step, name="model")
