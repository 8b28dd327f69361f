"""Calls the fs-tool fuzz cases run in the sandbox child (importable there by name)."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, ToolMessage

from subagents.tools import paths_exist


def check_answer(root: str, answer: str) -> str | None:
    """Run the ``paths_exist`` check of ``root`` on ``answer`` after a one-line task."""
    return paths_exist(root)(answer, [HumanMessage("Which file defines the app?")])


def check_with_output(root: str, answer: str, output: str) -> str | None:
    """Run the ``paths_exist`` check of ``root`` on ``answer`` after a tool printed ``output``."""
    messages = [HumanMessage("Which file defines the app?"),
                ToolMessage(output, tool_call_id="1", name="grep")]
    return paths_exist(root)(answer, messages)
