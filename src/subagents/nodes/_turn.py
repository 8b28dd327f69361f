"""Reading an agent's history: where the current task starts and what it has done since."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolCall, ToolMessage

from subagents.nodes.plan import NUDGE_KEY
from subagents.nodes.schemas import FINAL_ANSWER

__all__ = ["Turn", "call_key", "read_turn"]


@dataclass(slots=True)
class Turn:
    """What the current task has done so far.

    Attributes:
        calls: model calls made since the task message.
        made: every tool call made since (the model's own dicts, not copied).
        retries: corrections already sent back (invalid final answers, nudges: output-schema
            and answer-check ones).
        history: the agent's messages the turn was read from (the state's list, not copied).
    """

    calls: int = 0
    made: list[ToolCall] = field(default_factory=list)
    retries: int = 0
    history: Sequence[AnyMessage] = ()

    def repeats(self, tool_calls: Sequence[ToolCall]) -> bool:
        """Whether any of ``tool_calls`` repeats a call made earlier in this task.

        Two calls are the same when their names and their arguments (as canonical JSON, see
        ``call_key``) are equal; keys are only computed for earlier calls of the same name.
        """
        if not self.made or not tool_calls:
            return False
        names = {tc["name"] for tc in tool_calls}
        seen = {call_key(tc["name"], tc["args"]) for tc in self.made if tc["name"] in names}
        return bool(seen) and any(call_key(tc["name"], tc["args"]) in seen for tc in tool_calls)


def call_key(name: str, args: object) -> tuple[str, str]:
    """Identity of a tool call for the repeated-call guard."""
    try:
        return name, json.dumps(args, sort_keys=True, default=str)
    except (TypeError, ValueError):  # keys of mixed types (hand-built calls)
        return name, repr(args)


def read_turn(messages: Sequence[AnyMessage]) -> Turn:
    """Scan back to the last task message (a HumanMessage the runtime did not write)."""
    turn = Turn(history=messages)
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            if not msg.additional_kwargs.get(NUDGE_KEY):
                break
            turn.retries += 1
        elif isinstance(msg, AIMessage):
            turn.calls += 1
            turn.made.extend(msg.tool_calls)
        elif isinstance(msg, ToolMessage) and msg.name == FINAL_ANSWER and msg.status == "error":
            turn.retries += 1
    return turn
