"""Reading an agent's history: where the current task starts and what it has done since."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolCall, ToolMessage

from subagents.nodes.plan import NUDGE_KEY
from subagents.nodes.schemas import FINAL_ANSWER

PARENT_MESSAGE = "agent_message"
"""``additional_kwargs[NUDGE_KEY]`` of a message the parent sent with ``agent_message``."""

__all__ = ["PARENT_MESSAGE", "Loop", "Turn", "call_key", "read_turn"]

_RETRIED = frozenset({"failed", "timeout"})
"""Typed delegation statuses after which an identical call is a retry, never a loop."""
_KEYS = json.JSONEncoder(sort_keys=True, default=str)
"""``json.dumps(args, sort_keys=True, default=str)``, built once (``call_key`` runs for every
earlier call at every model call; ``dumps`` with options builds an encoder each time)."""


@dataclass(frozen=True, slots=True)
class Loop:
    """A tool call the loop guard refuses.

    Attributes:
        call: the refused call.
        times: how often the identical call already got the identical result.
    """

    call: ToolCall
    times: int

    def reason(self) -> str:
        """The ``error`` the agent ends with (arguments cut at 200 characters)."""
        args = call_key(self.call["name"], self.call["args"])[1]
        if len(args) > 200:
            args = args[:200] + "..."
        times = "once" if self.times == 1 else f"{self.times} times"
        return (f"stopped by the loop guard: {self.call['name']} {args} got the same result "
                f"{times}; the agent answered without tools")


@dataclass(slots=True)
class Turn:
    """What the current task has done so far.

    Attributes:
        calls: model calls made since the task message.
        replies: the AI messages since the task message, newest first (not copied).
        results: the tool messages answering each reply, by ``(index of the reply in
            replies, tool_call_id)``: a model may reuse an id in a later reply, and each
            reply's call is judged by its own answer.
        retries: corrections already sent back (invalid final answers, nudges: output-schema
            and answer-check ones).
        history: the agent's messages the turn was read from (the state's list, not copied).
    """

    calls: int = 0
    replies: list[AIMessage] = field(default_factory=list)
    results: dict[tuple[int, str], ToolMessage] = field(default_factory=dict)
    retries: int = 0
    history: Sequence[AnyMessage] = ()

    def looping(self, tool_calls: Sequence[ToolCall], max_repeats: int,
                exempt: Collection[str] = ()) -> Loop | None:
        """The first of ``tool_calls`` that repeats a call without progress, if any.

        A call loops when the earlier identical calls of this task (same name, same
        arguments as canonical JSON, see ``call_key``; the first of each reply) already got
        the same result as the latest of them ``max_repeats`` times. A call whose latest
        identical call ended in an error (a text error, a typed ``failed`` or ``timeout``)
        is a retry and never loops, nor does a call named in ``exempt``.

        Args:
            tool_calls: the calls of the new reply.
            max_repeats: ``LoopGuard.max_repeats`` (>= 1).
            exempt: tool names never refused (the lifecycle tools).
        """
        if not self.replies or not tool_calls or len(self.replies) < max_repeats:
            return None  # each earlier reply gives a call key at most one result: too few
        names = {tc["name"] for tc in tool_calls} - set(exempt)
        if not names:
            return None
        earlier = self._earlier(names)
        for tc in tool_calls:
            seen = earlier.get(call_key(tc["name"], tc["args"])) if tc["name"] in names else None
            if not seen or seen[-1] is None:
                continue
            times = seen.count(seen[-1])
            if times >= max_repeats:
                return Loop(tc, times)
        return None

    def _earlier(self, names: set[str]) -> dict[tuple[str, str], list[str | None]]:
        """Per call key (of ``names`` only): the results of its earlier calls, oldest first.

        A result is the tool message's content as text, None for a retry (an error that is
        no answer) or a call without a result.
        """
        out: dict[tuple[str, str], list[str | None]] = {}
        for index in reversed(range(len(self.replies))):
            keys: set[tuple[str, str]] = set()
            for tc in self.replies[index].tool_calls:
                if tc["name"] not in names:
                    continue
                key = call_key(tc["name"], tc["args"])
                if key not in keys:  # later copies in one reply were refused as duplicates
                    keys.add(key)
                    answer = self.results.get((index, tc["id"] or ""))
                    out.setdefault(key, []).append(_outcome(answer))
        return out


def _outcome(msg: ToolMessage | None) -> str | None:
    """A call's result as text, or None when it is a retry-worthy error or missing."""
    if msg is None:
        return None
    if msg.status == "error":
        payload = msg.artifact
        typed = isinstance(payload, dict) and isinstance(payload.get("status"), str)
        if not typed or payload["status"] in _RETRIED:
            return None
    content = msg.content
    return content if isinstance(content, str) else json.dumps(content, default=str)


def call_key(name: str, args: object) -> tuple[str, str]:
    """Identity of a tool call for the loop guard and the duplicate check."""
    try:
        return name, _KEYS.encode(args)
    except (TypeError, ValueError):  # keys of mixed types (hand-built calls)
        return name, repr(args)


def read_turn(messages: Sequence[AnyMessage]) -> Turn:
    """Scan back to the last task message (a HumanMessage the runtime did not write)."""
    turn = Turn(history=messages)
    answers: dict[str, ToolMessage] = {}  # those after the AI message the scan reaches next
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            nudge = msg.additional_kwargs.get(NUDGE_KEY)
            if not nudge:
                break
            turn.retries += nudge != PARENT_MESSAGE  # a parent's follow-up is no retry
        elif isinstance(msg, AIMessage):
            turn.calls += 1
            if msg.tool_calls:
                index = len(turn.replies)
                turn.replies.append(msg)
                for k, v in answers.items():
                    turn.results[index, k] = v
            answers = {}
        elif isinstance(msg, ToolMessage):
            answers[msg.tool_call_id] = msg
            if msg.name == FINAL_ANSWER and msg.status == "error":
                turn.retries += 1
    return turn
