"""One ending type, one reader, one retry loop: ``nodes.ending`` and ``nodes.retry.attempts``.

The retry loop is a sans-IO step: driven here by hand, it shows what it asks for (the waits
of LangGraph's ``RetryPolicy``, computed by tenacity) without sleeping.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph.types import RetryPolicy
from pydantic import BaseModel

from subagents import Agent
from subagents.nodes.ending import OUTCOME_KEY, read_ending
from subagents.nodes.retry import Attempt, Wait, attempts
from subagents.results import Ending, Status
from subagents.runtime.call import CallInfo
from subagents.runtime.steps import Step, adrive, drive


class Answer(BaseModel):
    value: int


def test_read_ending_of_a_local_agent_takes_its_last_ai_text() -> None:
    agent = Agent(name="w", description="Works.")
    state = {"messages": [HumanMessage("go"), AIMessage("first"), AIMessage("done")]}
    assert read_ending(agent, state) == Ending(Status.COMPLETED, "done")


def test_read_ending_of_a_schema_agent_is_its_output_as_json() -> None:
    agent = Agent(name="w", description="Works.", output_schema=Answer)
    ended = read_ending(agent, {"messages": [AIMessage("")],
                                "structured_response": Answer(value=3)})
    assert ended == Ending(Status.COMPLETED, {"value": 3})
    missing = read_ending(agent, {"messages": [AIMessage("no schema")]})
    assert missing == Ending(Status.FAILED, "no schema", "no valid final_answer")


def test_read_ending_of_an_own_graph_reads_its_wrapper_or_its_output() -> None:
    agent = Agent.from_graph(RunnableLambda(lambda state: state), name="g",
                             description="An own graph.")
    recorded = {OUTCOME_KEY: ("timeout", None, "slow")}
    assert read_ending(agent, recorded) == Ending(Status.TIMEOUT, None, "slow")
    assert read_ending(agent, "plain text") == Ending(Status.COMPLETED, "plain text")
    assert read_ending(agent, {"other": 1}).status is Status.FAILED


def _script(endings: list[Ending]) -> Any:
    """An attempt step per call: yields nothing, returns the next scripted ending."""
    left = list(endings)

    def attempt() -> Step[Attempt]:
        return Attempt(left.pop(0))
        yield  # a step

    return attempt


def test_attempts_waits_as_the_policy_says_and_numbers_the_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, initial_interval=0.5, backoff_factor=2.0,
                         max_interval=10.0, jitter=False)
    call = CallInfo("t1", "task", retried=True)
    retried: list[tuple[int, float]] = []
    failed = Ending(Status.FAILED, None, "boom")
    step = attempts(policy, call, _script([failed, failed, failed]),
                    lambda c, _, delay: retried.append((c.attempt, delay)))
    waits = []
    request = next(step)
    while True:
        assert isinstance(request, Wait)
        waits.append(request.seconds)
        try:
            request = step.send(None)
        except StopIteration as done:
            ended = done.value
            break
    assert waits == [0.5, 1.0]
    assert retried == [(1, 0.5), (2, 1.0)]
    assert ended == failed and call.attempt == 3 and call.errors == ["boom"] * 3


async def test_attempts_stops_at_an_ending_the_policy_does_not_retry() -> None:
    policy = RetryPolicy(max_attempts=5, initial_interval=0.0, jitter=False)
    spent = Ending(Status.OVER_BUDGET, None, "the budget is spent")
    call = CallInfo("t1", "task", retried=True)
    ended = await adrive(attempts(policy, call, _script([spent]), lambda *_: None))
    assert ended == spent and call.attempt == 1 and call.errors == ["the budget is spent"]
    ok = Ending(Status.COMPLETED, "fine")
    call = CallInfo("t2", "task", retried=True)
    assert drive(attempts(policy, call, _script([Ending(Status.FAILED), ok]),
                          lambda *_: None)) == ok
    assert call.attempt == 2 and call.errors == ["failed"]


def test_without_a_policy_one_attempt_runs() -> None:
    call = CallInfo("t1", "task")
    failed = Ending(Status.FAILED, None, "boom")
    assert drive(attempts(None, call, _script([failed]), lambda *_: None)) == failed
    assert call.errors == []


@pytest.mark.parametrize("jitter", [False, True])
def test_waits_are_bounded_by_max_interval(jitter: bool) -> None:
    policy = RetryPolicy(max_attempts=4, initial_interval=1.0, backoff_factor=10.0,
                         max_interval=2.0, jitter=jitter)
    call = CallInfo("t1", "task", retried=True)
    step = attempts(policy, call, _script([Ending(Status.FAILED)] * 4), lambda *_: None)
    waits = [next(step).seconds]
    waits += [step.send(None).seconds for _ in range(2)]
    assert waits[0] >= 1.0 and all(2.0 <= w <= 3.0 for w in waits[1:])
    assert all(w <= 2.0 for w in waits) or jitter
