"""A tool call the runtime makes for an agent before its first model call of each task.

Spec layer only (pydantic, no runtime import); the model node makes the call (see
``subagents.nodes.model``) and the compiler checks the tool name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TASK", "FirstCall"]

TASK = "{task}"
"""The placeholder an argument's text holds for the task's text."""


class FirstCall(BaseModel):
    """The first step of every task of an agent: one of its tools, called with the task.

    Before the agent's first model call of a task, the runtime writes the AI message a model
    would have written, calling ``tool`` with ``args`` where every ``"{task}"`` inside a text
    argument is replaced by the task's text (the objective it was given, its ``context``
    appended as the delegation tool writes it). That call then runs like any tool call: its
    events, approval, budget tool round, timeout and loop guard apply, and the model's first
    call sees its result. It is one of the agent's ``max_steps`` (no model call is made or
    counted for it). Use it where the first move is always the same, so a small model cannot
    get it wrong: a search with the whole question, a file to read, a status to fetch.

    Example:
        >>> Agent(name="explore", tools=[find_tool(".")],  # doctest: +SKIP
        ...       first_call=FirstCall(tool="find", args={"query": "{task}"}))

    In a team file: ``first_call: {tool: find, args: {query: "{task}"}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1, description="Name of one of the agent's own tools.")
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Its arguments; '{task}' inside a text argument becomes the task's text.",
    )

    def arguments(self, task: str) -> dict[str, Any]:
        """``args`` with every ``"{task}"`` of a text value (at any depth) set to ``task``."""
        return {key: _fill(value, task) for key, value in self.args.items()}


def _fill(value: Any, task: str) -> Any:
    if isinstance(value, str):
        return value.replace(TASK, task)
    if isinstance(value, list):
        return [_fill(item, task) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, task) for key, item in value.items()}
    return value
