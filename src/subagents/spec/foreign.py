"""Specs of sub-agents that are not built from an ``Agent``'s fields: remote and own graphs.

:class:`RemoteSpec` (``Agent.from_remote``) says where a graph deployed on a LangGraph server
runs; :class:`GraphSpec` (``Agent.from_graph``) holds a compiled LangGraph graph or any
``Runnable`` run in-process, with the mappings of its input and output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import Runnable
from langgraph.pregel import Pregel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SkipValidation,
    ValidationInfo,
    field_validator,
)

from subagents.spec._fields import strict_scalar

__all__ = ["GraphSpec", "RemoteSpec", "check_foreign", "load_graph"]


class RemoteSpec(BaseModel):
    """Where a remote sub-agent runs (``Agent.from_remote``).

    Attributes:
        url: base URL of the LangGraph server (``http://127.0.0.1:2024``).
        graph_id: a graph id of the server's ``langgraph.json`` or an assistant id.
        headers: extra HTTP headers for every request.
        api_key: the server's API key (default: ``LANGGRAPH_API_KEY`` / ``LANGSMITH_API_KEY``).
        timeout: HTTP timeout in seconds for the server's client (None: the SDK's default).
        configurable: extra ``configurable`` values sent with every run (primitives only).
        cancel_timeout: seconds spent cancelling the remote run when the parent is cancelled.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    graph_id: str = Field(min_length=1)
    headers: dict[str, str] | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, gt=0)
    configurable: dict[str, Any] | None = None
    cancel_timeout: float = Field(default=5.0, gt=0)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return strict_scalar(cls, value, info)


class GraphSpec(BaseModel):
    """A compiled LangGraph graph or any ``Runnable`` run as a sub-agent (``Agent.from_graph``).

    Attributes:
        graph: the graph or Runnable (a ``"package.module:attr"`` string is imported: an
            attribute holding one, or a function of no arguments returning one).
        input: ``input(task_text) -> graph input``; None: ``{"messages": [task message]}``.
        output: ``output(final_state) -> result`` (JSON-ready); None: the final state's
            ``structured_response`` when set, else its last AI message's text (a string or a
            message returned by a Runnable: its text).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    graph: SkipValidation[Runnable[Any, Any]]
    input: SkipValidation[Callable[[str], Any] | None] = None
    output: SkipValidation[Callable[[Any], Any] | None] = None

    @field_validator("graph", mode="before")
    @classmethod
    def _check_graph(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = load_graph(value)
        if not isinstance(value, Runnable):
            msg = (f"must be a compiled LangGraph graph or a Runnable, got "
                   f"{type(value).__name__}")
            raise ValueError(msg)
        return value

    @field_validator("input", "output", mode="before")
    @classmethod
    def _check_callable(cls, value: Any) -> Any:
        if value is not None and not callable(value):
            msg = f"must be a callable or None, got {type(value).__name__}"
            raise ValueError(msg)
        return value


def load_graph(ref: str) -> Runnable[Any, Any]:
    """Import ``"package.module:attr"``: a graph or Runnable, or a function returning one.

    Raises:
        ValueError: the reference is malformed, cannot be imported, names no attribute, or
            gives no Runnable (the function's own exception is re-raised as one, chained).
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        msg = f"graph reference {ref!r} must be 'package.module:attr'"
        raise ValueError(msg)
    try:
        value: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        msg = f"cannot load graph {ref!r}: {type(exc).__name__}: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(value, Runnable) and callable(value):
        try:
            value = value()
        except Exception as exc:
            msg = f"graph factory {ref!r} raised {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc
    if not isinstance(value, Runnable):
        msg = f"graph {ref!r} is no compiled graph or Runnable: {type(value).__name__}"
        raise ValueError(msg)
    return value






_FOREIGN_FIXED = ("model", "tools", "subagents", "persistence", "background", "budget",
                  "needs_approval", "system_prompt", "answer_check", "tool_timeout",
                  "loop_guard")
"""Fields a remote or own-graph agent cannot take: its graph decides them."""


def check_foreign(agent: Any) -> None:
    """A remote or own-graph agent takes none of the fields its graph decides."""
    if agent.remote is not None and agent.graph is not None:
        msg = f"agent {agent.name!r}: field 'graph': an agent is remote or a graph, not both"
        raise ValueError(msg)
    field = "remote" if agent.remote is not None else "graph" if agent.graph else None
    if field is None:
        return
    fixed = _FOREIGN_FIXED if field == "remote" else (*_FOREIGN_FIXED, "output_schema")
    extra = [f for f in fixed if f in agent.model_fields_set and getattr(agent, f)]
    if extra:
        what = ("a remote agent runs on its server" if field == "remote"
                else "an own-graph agent runs its graph")
        msg = f"agent {agent.name!r}: field {field!r}: {what} and takes no {', '.join(extra)}"
        raise ValueError(msg)
    if field == "graph" and agent.persistent:
        _check_persistent_graph(agent)


def _check_persistent_graph(agent: Any) -> None:
    """A persistent own graph is a compiled graph with the ``messages`` default."""
    if not isinstance(agent.graph.graph, Pregel):
        msg = (f"agent {agent.name!r}: field 'persistent': a persistent own graph must be a "
               "compiled LangGraph graph (its history lives on a checkpoint thread)")
        raise ValueError(msg)
    if agent.graph.input is not None:
        msg = (f"agent {agent.name!r}: field 'persistent': a persistent graph keeps its "
               "history in 'messages': it takes no 'input' mapping")
        raise ValueError(msg)
