"""The model node: one model call, then routing of its tool calls.

The node returns ``Command(goto=[Send(...), ...])``: one ``Send`` per tool call, to the
``tools`` node or to the delegation node of a child, so each delegation is its own LangGraph
task (its own pending write, resumed on its own ``tool_call_id`` after a crash). Refused
calls are answered inline with a typed tool result and never executed. Loop guards live here,
not in prompts: at the step limit, or when the loop guard sees a tool call that keeps getting
the same result, it gets one last call without tools and must answer from what it has.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.types import Command

from subagents.nodes._decide import LOOP_STOP, Outcome, decide, ending, over_budget
from subagents.nodes._emit import Emitter
from subagents.nodes._node import AgentNode
from subagents.nodes._turn import Turn, read_turn
from subagents.nodes.plan import AgentPlan
from subagents.nodes.schemas import final_answer_spec
from subagents.scope import RunScope, scope_of

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


class _ModelStep:
    """Shared logic of the sync and async model node of one agent."""

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
        self.system: list[AnyMessage] = (
            [SystemMessage(content=agent.system_prompt)] if agent.system_prompt else []
        )

    def request(
        self, messages: list[AnyMessage]
    ) -> tuple[Turn, bool, Runnable[Any, Any], list[Any]]:
        """The turn so far, whether this is the forced last call, the runnable, its input."""
        turn = read_turn(messages)
        if turn.calls + 1 >= self.plan.agent.max_steps:
            return turn, True, self.final, [*self.system, *messages, _nudge(LIMIT_NUDGE)]
        return turn, False, self.bound, [*self.system, *messages] if self.system else messages

    def forced_request(self, messages: list[AnyMessage], out: Outcome) -> list[Any]:
        return [*self.system, *messages, *out.messages, _nudge(REPEAT_NUDGE)]

    def decide(self, turn: Turn, ai: AIMessage, *, forced: bool) -> Outcome:
        return decide(self.plan, turn, self._named(ai), forced=forced)

    def finish(self, out: Outcome, final_ai: AIMessage) -> Outcome:
        """End after the forced last call that followed ``out`` (the loop guard's)."""
        done = decide(self.plan, Turn(), self._named(final_ai), forced=True,
                      reason=out.stop or LOOP_STOP, error=out.error)
        done.messages = [*out.messages, *done.messages]
        return done

    def gate(self, scope: RunScope | None, after: Outcome | None = None) -> Outcome | None:
        """Reserve one model call in the tree's budget, or end without it when exhausted.

        ``after``: the outcome whose messages come first (a forced last call was due).
        """
        if scope is None or scope.budget is None:
            return None
        reason = scope.budget.try_reserve()
        if not reason:
            return None
        out = over_budget(self.plan.agent, reason)
        if after is not None:
            out.messages = [*after.messages, *out.messages]
        return out

    def charge(self, scope: RunScope | None, ai: AIMessage, emit: Emitter) -> None:
        """Record one model reply in the usage tree, the budget and the event stream."""
        emit.model_end(ai)
        if scope is None:
            return
        usage = ai.usage_metadata
        scope.usage.record_model_call(usage, len(ai.tool_calls))
        if scope.budget is not None:
            tokens = usage["total_tokens"] if usage else 0
            scope.budget.charge(tokens=int(tokens),
                                tool_rounds=1 if ai.tool_calls else 0)

    def end(self, scope: RunScope | None, out: Outcome) -> Command[Any]:
        """The node's Command; at the end, record the status (and the usage on the root)."""
        command = out.command()
        if not out.done or scope is None:
            return command
        last = next((m for m in reversed(out.messages) if isinstance(m, AIMessage)), None)
        status, _, _ = ending(self.plan.agent, last, out.structured)
        scope.finish(status)
        if len(self.plan.path) == 1 and isinstance(command.update, dict):
            command.update["usage"] = scope.usage.to_dict()
        return command

    def _named(self, ai: AIMessage) -> AIMessage:
        name = self.plan.agent.name
        if ai.name is None:  # a fresh reply of this call: naming it in place spares a copy
            ai.name = name
        return ai if ai.name == name else ai.model_copy(update={"name": name})


def make_model_node(plan: AgentPlan) -> AgentNode:
    """Build the sync+async ``model`` node of one agent.

    The node reads ``state["messages"]``, calls the model (system prompt first), and returns a
    ``Command``: ``goto=END`` when the agent is done, a list of ``Send`` for its tool calls, or
    ``goto="model"`` when every call was refused or a correction was sent back. Before each
    model call it checks the tree's budget (ending ``over_budget`` without the call); after
    it, it records usage. When the agent ends, its unsettled background children are
    auto-cancelled (``BackgroundConfig.auto_cancel``) before the usage is reported.
    """
    step = _ModelStep(plan)

    def model(state: dict[str, Any], config: RunnableConfig) -> Command[Any]:
        messages, scope = state["messages"], scope_of(config)
        emit = Emitter(scope, config)
        out = step.gate(scope)
        if out is None:
            turn, forced, runnable, request = step.request(messages)
            emit.model_start(len(request))
            ai = runnable.invoke(request, emit.model_config())
            step.charge(scope, ai, emit)
            out = step.decide(turn, ai, forced=forced)
            emit.refusals(out.refused)
        if out.force_final:
            out = step.gate(scope, after=out) or out
        if out.force_final:
            request = step.forced_request(messages, out)
            emit.model_start(len(request))
            final_ai = step.final.invoke(request, emit.model_config())
            step.charge(scope, final_ai, emit)
            out = step.finish(out, final_ai)
        return step.end(scope, out)

    async def amodel(state: dict[str, Any], config: RunnableConfig) -> Command[Any]:
        messages, scope = state["messages"], scope_of(config)
        emit = Emitter(scope, config)
        out = step.gate(scope)
        if out is None:
            turn, forced, runnable, request = step.request(messages)
            emit.model_start(len(request))
            ai = await runnable.ainvoke(request, emit.model_config())
            step.charge(scope, ai, emit)
            out = step.decide(turn, ai, forced=forced)
            emit.refusals(out.refused)
        if out.force_final:
            out = step.gate(scope, after=out) or out
        if out.force_final:
            request = step.forced_request(messages, out)
            emit.model_start(len(request))
            final_ai = await step.final.ainvoke(request, emit.model_config())
            step.charge(scope, final_ai, emit)
            out = step.finish(out, final_ai)
        if out.done and scope is not None and scope.background is not None:
            await scope.background.close()
        return step.end(scope, out)

    return AgentNode(model, amodel, name="model")
