"""Scripted models for the exported demo graphs, selectable by ``SUBAGENTS_MODEL``.

A LangGraph server test runs the exported graphs on these, never on a network model::

    SUBAGENTS_MODEL=python:subagents.testing.demo:research_model langgraph dev ...

``research_model``: the ``lead`` starts one background ``researcher`` per topic in the user's
message (comma-separated), awaits them all, asks the ``critic`` (sync), and answers.
A topic containing ``slow`` makes its researcher wait ``SUBAGENTS_DEMO_SLOW`` seconds (default
30) in a tool, to test cancellation; a topic containing ``ask`` makes it ask a human (an
``interrupt``) before answering.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from subagents.testing.scripted import ScriptedChatModel, ai, call

__all__ = ["explorer_model", "explorer_policy", "research_model", "research_policy"]






def _task(messages: list[BaseMessage]) -> str:
    return str(next(m for m in messages if isinstance(m, HumanMessage)).content)


def _lead(messages: list[BaseMessage]) -> AIMessage:
    last = messages[-1]
    if isinstance(last, HumanMessage):
        topics = [t.strip() for t in str(last.content).split(",") if t.strip()]
        return ai(*[call("task", agent="researcher", objective=t, background=True)
                    for t in topics])
    tool_names = [m.name for m in messages if isinstance(m, ToolMessage)]
    if "agent_await" not in tool_names:
        ids = [json.loads(str(m.content))["id"] for m in messages
               if isinstance(m, ToolMessage) and '"running"' in str(m.content)]
        return ai(call("agent_await", ids=ids, mode="allSettled"))
    if tool_names[-1] == "agent_await":
        return ai(call("task", agent="critic", objective=str(last.content)[:500]))
    return ai(f"report: {last.content}")


def _researcher(messages: list[BaseMessage]) -> AIMessage:
    topic, last = _task(messages), messages[-1]
    if isinstance(last, HumanMessage):
        return ai(call("slow_lookup", topic=topic))
    return ai(f"{topic}: {last.content}")


def research_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """The stateless policy of ``research_model`` (see module docstring)."""
    if agent == "lead":
        return _lead(messages)
    if agent == "researcher":
        return _researcher(messages)
    task, last = _task(messages), messages[-1]
    if "ask" in task and isinstance(last, HumanMessage):
        return ai(call("ask_human", question="Approve the findings?"))
    if isinstance(last, ToolMessage):
        return ai(f"critique: the human said {last.content}")
    return ai(f"critique of {len(task)} characters: fine")


def explorer_policy(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """Dev -> explore (whose first step, ``find`` with the task, the runtime makes), answer.

    Without that first step (a team of your own) explore calls ``find`` with the
    question's last word.
    """
    last: Any = messages[-1]
    if agent == "dev":
        if isinstance(last, HumanMessage):
            return ai(call("task", agent="explore", objective=str(last.content)))
        return ai(f"answer: {last.content}")
    if isinstance(last, HumanMessage):
        word = str(last.content).split()[-1].strip("?.") if str(last.content).split() else "x"
        return ai(call("find", query=word))
    return ai(f"found: {str(last.content)[:200]}")


research_model = ScriptedChatModel(policy=research_policy)
"""Scripted model of the ``research`` demo graph."""
explorer_model = ScriptedChatModel(policy=explorer_policy)
"""Scripted model of the ``explorer`` graph."""
