"""The model node: one model call, then routing of its tool calls.

The node returns ``Command(goto=[Send(...), ...])``: one ``Send`` per tool call, to the
``tools`` node or to the delegation node of a child, so each delegation is its own LangGraph
task (its own pending write, resumed on its own ``tool_call_id`` after a crash). Refused
calls are answered inline with a typed tool result and never executed. Loop guards live here,
not in prompts: at the step limit, or when the model repeats an identical tool call, it gets
one last call without tools and must answer from what it has.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.types import Command

from subagents.nodes._decide import Outcome, decide
from subagents.nodes._turn import Turn, read_turn
from subagents.nodes.plan import AgentPlan
from subagents.nodes.schemas import final_answer_spec

__all__ = ["LIMIT_NUDGE", "REPEAT_NUDGE", "make_model_node"]

LIMIT_NUDGE = (
    "Step limit reached: do not call any more tools. Answer now from the results above."
)
REPEAT_NUDGE = (
    "You repeated a tool call you already made; its result is above. Do not call any more "
    "tools. Answer now from the results above."
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
        return turn, False, self.bound, [*self.system, *messages]

    def forced_request(self, messages: list[AnyMessage], out: Outcome) -> list[Any]:
        return [*self.system, *messages, *out.messages, _nudge(REPEAT_NUDGE)]

    def decide(self, turn: Turn, ai: AIMessage, *, forced: bool) -> Outcome:
        return decide(self.plan, turn, self._named(ai), forced=forced)

    def finish(self, out: Outcome, final_ai: AIMessage) -> Command[Any]:
        """End after the forced last call that followed ``out`` (a repeated tool call)."""
        done = decide(self.plan, Turn(), self._named(final_ai), forced=True,
                      reason=out.stop or "repeated_tool_call")
        done.messages = [*out.messages, *done.messages]
        return done.command()

    def _named(self, ai: AIMessage) -> AIMessage:
        if ai.name == self.plan.agent.name:
            return ai
        return ai.model_copy(update={"name": self.plan.agent.name})


def make_model_node(plan: AgentPlan) -> RunnableCallable:
    """Build the sync+async ``model`` node of one agent.

    The node reads ``state["messages"]``, calls the model (system prompt first), and returns a
    ``Command``: ``goto=END`` when the agent is done, a list of ``Send`` for its tool calls, or
    ``goto="model"`` when every call was refused or a correction was sent back.
    """
    step = _ModelStep(plan)

    def model(state: dict[str, Any], config: RunnableConfig) -> Command[Any]:
        messages = state["messages"]
        turn, forced, runnable, request = step.request(messages)
        out = step.decide(turn, runnable.invoke(request, config), forced=forced)
        if out.force_final:
            return step.finish(out, step.final.invoke(step.forced_request(messages, out), config))
        return out.command()

    async def amodel(state: dict[str, Any], config: RunnableConfig) -> Command[Any]:
        messages = state["messages"]
        turn, forced, runnable, request = step.request(messages)
        ai = await runnable.ainvoke(request, config)
        out = step.decide(turn, ai, forced=forced)
        if out.force_final:
            final_ai = await step.final.ainvoke(step.forced_request(messages, out), config)
            return step.finish(out, final_ai)
        return out.command()

    return RunnableCallable(model, amodel, name="model", trace=False)
