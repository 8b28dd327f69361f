"""The shipped test double ``ScriptedChatModel`` copies as users copy models.

``copy.deepcopy`` (and ``model_copy(deep=True)``, ``Agent.model_copy(deep=True)``) gives an
independent model: the script goes on from where the original was, the two count their
calls apart. The original's lock cannot be copied and is not shared.
"""

from __future__ import annotations

import copy
import threading

from langchain_core.messages import HumanMessage

from subagents import Agent
from subagents.testing import ScriptedChatModel, ai


def test_a_deep_copy_is_independent_and_goes_on_from_the_same_place() -> None:
    model = ScriptedChatModel(steps=[ai("one"), ai("two"), ai("three")])
    assert model.invoke([HumanMessage("a")]).content == "one"
    clone = copy.deepcopy(model)
    assert clone.invoke([HumanMessage("b")]).content == "two"
    assert model.invoke([HumanMessage("c")]).content == "two"
    assert [len(clone.calls), len(model.calls)] == [2, 2]
    assert clone._lock is not model._lock and isinstance(clone._lock, type(threading.Lock()))


def test_pydantic_and_agent_deep_copies_work() -> None:
    model = ScriptedChatModel(policy=lambda messages: ai(f"{len(messages)} messages"))
    assert model.model_copy(deep=True).invoke([HumanMessage("a")]).content == "1 messages"
    agent = Agent(name="a", model=model).model_copy(deep=True)
    assert isinstance(agent.model, ScriptedChatModel) and agent.model is not model
    assert model.calls == []
