"""``Budget(max_seconds)`` is a deadline in sync runs too: the wait ends at it.

A sync run cannot cancel a call: the model or tool call runs in a daemon thread and the run
stops waiting at the deadline (``nodes._node.Deadline.run``), as the async tests of
``test_budget_exact`` show for cancellation. The stuck calls here wait on an event the test
sets when it is done (at most ``HOLD`` seconds: a run that never reached its deadline fails
instead of hanging).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from _stuck import stuck_policy, stuck_root
from subagents import Agent, Budget, DelegationResult, Status, compile_agent
from subagents.testing import ScriptedChatModel, ai

HOLD = 30.0
_release = threading.Event()


@pytest.fixture(autouse=True)
def released() -> Iterator[None]:
    """Free the threads left running past the deadline once the test is done."""
    _release.clear()
    yield
    _release.set()


class StuckModel(ScriptedChatModel):
    """Replies normally, except that the agents in ``stuck`` wait for the release first."""

    stuck: frozenset[str] = frozenset()

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kwargs: Any) -> Any:
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        if agent in self.stuck:
            _release.wait(HOLD)
        return super()._generate(messages, stop, run_manager, **kwargs)


@tool
def stall() -> str:
    """Wait for something that happens only after the test."""
    _release.wait(HOLD)
    return "late"


def run_stuck(stuck: set[str], root_tools: list[Any]) -> dict[str, Any]:
    root = stuck_root(StuckModel(policy=stuck_policy, stuck=frozenset(stuck)), root_tools)
    out: dict[str, Any] = compile_agent(root).invoke({"messages": [HumanMessage("go")]})
    assert not _release.is_set(), "the run waited for the stuck call instead of its deadline"
    return out


def test_sync_max_seconds_ends_the_wait_for_a_model_call() -> None:
    out = run_stuck({"root"}, [])
    assert out["usage"]["status"] == "over_budget"
    text = str(out["messages"][-1].content)
    assert "max_seconds=0.3" in text and "during a model call" in text


def test_sync_max_seconds_ends_the_wait_for_tool_calls_and_sub_agents() -> None:
    out = run_stuck({"worker"}, [stall])
    assert out["usage"]["status"] == "over_budget"
    answers = {m.name: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert answers["stall"].status == "error"
    assert "max_seconds=0.3" in str(answers["stall"].content)
    worker = DelegationResult.from_message(answers["task"])
    assert worker.status is Status.OVER_BUDGET and "max_seconds=0.3" in (worker.error or "")
    assert "max_seconds=0.3" in str(out["messages"][-1].content)


def test_sync_run_without_a_deadline_runs_calls_in_line() -> None:
    """No ``max_seconds``: the model call is made in the run's own thread, as before."""
    threads: list[str] = []

    def policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
        threads.append(threading.current_thread().name)
        return ai("done")

    root = Agent(name="root", model=ScriptedChatModel(policy=policy),
                 budget=Budget(max_model_calls=5))
    out = compile_agent(root).invoke({"messages": [HumanMessage("go")]})
    assert out["usage"]["status"] == "completed"
    assert threads and not any(t.startswith("subagents-deadline") for t in threads)
