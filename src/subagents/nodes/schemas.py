"""Tool schemas the parent model sees, and the validation of their arguments.

- ``task(agent, objective, context="")``: one tool listing every allowed sub-agent; ``agent``
  is an enum of their names, so a grammar-constrained server (llama.cpp) cannot invent one.
- ``task_<name>(objective, context="")`` or the child's ``input_schema``: one tool per child.
- ``final_answer(**output_schema)``: how an agent with an output schema ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ValidationError

from subagents.spec import Agent
from subagents.spec.background import BackgroundConfig

__all__ = [
    "FINAL_ANSWER",
    "LIFECYCLE",
    "lifecycle_specs",
    "final_answer_spec",
    "per_agent_spec",
    "task_message",
    "task_spec",
    "tool_spec",
    "validation_text",
]

FINAL_ANSWER = "final_answer"
_OBJECTIVE = "The complete task; the sub-agent sees nothing else."
_CONTEXT = "Optional facts the sub-agent needs that are not in the objective."
_MESSAGE_FIELDS = ("message", "query", "text", "content")


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


_BACKGROUND = {
    "type": "boolean",
    "default": False,
    "description": "Run in the background: get an id at once and the result later with "
    "agent_await or agent_status.",
}
LIFECYCLE = {"status": "agent_status", "cancel": "agent_cancel", "await": "agent_await",
             "message": "agent_message"}
"""Lifecycle tool names by ``BackgroundConfig.tools`` entry."""


def _task_properties(with_context: bool, background: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"objective": {"type": "string", "description": _OBJECTIVE}}
    if with_context:
        props["context"] = {"type": "string", "description": _CONTEXT, "default": ""}
    if background:
        props["background"] = _BACKGROUND
    return props


def lifecycle_specs(config: BackgroundConfig) -> list[dict[str, Any]]:
    """The background lifecycle tools chosen by ``config.tools``."""
    one_id = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    specs = {
        "status": _function("agent_status", "Non-blocking status of a background sub-agent "
                            "(running, completed, failed, cancelled, timeout) and its result.",
                            one_id),
        "cancel": _function("agent_cancel", "Cancel a running background sub-agent.", one_id),
        "await": _function(
            "agent_await",
            "Wait for background sub-agents. mode: all (all results; fails at the first "
            "failure), allSettled (every result and error), any (first success), race (first "
            "to finish).",
            {"type": "object", "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "mode": {"type": "string", "enum": list(config.await_modes),
                         "default": config.await_modes[0]}},
             "required": ["ids"]}),
        "message": _function(
            "agent_message", "Send a follow-up message to a running background sub-agent: "
            "it reads it at its next model call.",
            {"type": "object", "properties": {"id": {"type": "string"},
                                              "text": {"type": "string"}},
             "required": ["id", "text"]}),
    }
    return [specs[name] for name in config.tools]


def task_spec(children: Sequence[Agent], *, with_context: bool,
              background: bool = False) -> dict[str, Any]:
    """The shared ``task`` tool: ``agent`` is an enum of ``children``' names."""
    listing = "\n".join(f"- {c.name}: {c.description or '(no description)'}" for c in children)
    props = {
        "agent": {
            "type": "string",
            "enum": [c.name for c in children],
            "description": "Which sub-agent runs the task.",
        },
        **_task_properties(with_context, background),
    }
    text = (
        "Delegate a self-contained task to a sub-agent and get its result. "
        f"Available sub-agents:\n{listing}"
    )
    return _function("task", text, {"type": "object", "properties": props,
                                    "required": ["agent", "objective"]})


def per_agent_spec(child: Agent, *, with_context: bool, background: bool = False) -> dict[str, Any]:
    """The ``task_<name>`` tool of one child (its ``input_schema`` when it has one)."""
    text = child.tool_description or (
        f"Delegate a self-contained task to the sub-agent '{child.name}': "
        f"{child.description or '(no description)'}"
    )
    if child.input_schema is not None:
        params = child.input_schema.model_json_schema()
        if background:
            params["properties"] = {**params.get("properties", {}), "background": _BACKGROUND}
    else:
        params = {"type": "object", "properties": _task_properties(with_context, background),
                  "required": ["objective"]}
    return _function(child.delegation_tool_name, text, params)


def final_answer_spec(schema: type[BaseModel]) -> dict[str, Any]:
    """The ``final_answer`` tool whose arguments are ``schema``."""
    text = "Return your final answer with this tool, once, when you are done."
    return _function(FINAL_ANSWER, text, schema.model_json_schema())


def tool_spec(tool: BaseTool) -> dict[str, Any]:
    """OpenAI-format dict of one LangChain tool."""
    return convert_to_openai_tool(tool)


def task_message(child: Agent, args: Mapping[str, Any], *,
                 shared_tool: bool = False) -> HumanMessage | str:
    """Build the child's one task message from the call's arguments.

    Args:
        child: the sub-agent.
        args: the tool call's arguments.
        shared_tool: the call came through the shared ``task`` tool, which always offers
            objective/context (a child's ``input_schema`` applies to its own tool only).

    Returns:
        The HumanMessage, or an error text naming what is wrong with the arguments.
    """
    if args.get("background") is not None and not isinstance(args["background"], bool):
        return f"invalid arguments for {child.name}: 'background' must be true or false"
    args = {k: v for k, v in args.items() if k not in ("background", "agent")}
    if child.input_schema is not None and not shared_tool:
        try:
            data = child.input_schema.model_validate(args)
        except ValidationError as exc:
            return f"invalid arguments for {child.name}: {_short(exc)}"
        fields = data.model_dump(mode="json")
        text = next((fields[k] for k in _MESSAGE_FIELDS if isinstance(fields.get(k), str)), None)
        return HumanMessage(content=text if text is not None else json.dumps(fields))
    objective, context = args.get("objective"), args.get("context", "") or ""
    if not isinstance(objective, str) or not objective.strip():
        return f"invalid arguments for {child.name}: 'objective' must be a non-empty string"
    if not isinstance(context, str):
        return f"invalid arguments for {child.name}: 'context' must be a string"
    body = f"{objective}\n\nContext:\n{context}" if context.strip() else objective
    return HumanMessage(content=body)


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()
    )


def validation_text(exc: ValidationError) -> str:
    """A compact one-line form of a pydantic error for tool results."""
    return _short(exc)
