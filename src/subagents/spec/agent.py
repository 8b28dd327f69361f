"""The agent spec: what a user declares, validated at construction.

An :class:`Agent` is data. ``subagents.compile_agent`` turns it (and its sub-agents) into
compiled LangGraph subgraphs. Invalid specs raise ``pydantic.ValidationError`` (a
``ValueError`` subclass) or :class:`subagents.errors.SpecError`, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as make_tool
from langgraph.types import RetryPolicy
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    ValidationInfo,
    field_validator,
    model_validator,
)

from subagents.spec._fields import price_table, retry_policy
from subagents.spec._fields import strict_scalar as _strict_scalar
from subagents.spec._names import RESERVED_NAMES, agent_name, tool_name, tool_names
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget
from subagents.spec.first_call import FirstCall
from subagents.spec.foreign import GraphSpec, RemoteSpec, check_foreign
from subagents.spec.guard import LoopGuard

__all__ = ["RESERVED_NAMES", "Agent", "AnswerCheck", "GraphSpec", "RemoteSpec", "iter_agents",
           "retry_policy"]

AnswerCheck = Callable[[str, list[BaseMessage]], str | None]
"""``check(answer, messages) -> None | correction``: see ``Agent.answer_check``."""


class Agent(BaseModel):
    """A sub-agent (or root agent) declaration.

    Every agent compiles into its own LangGraph subgraph with its own message state; a parent
    delegates to it through a tool call. Unknown fields are rejected (``max_step=`` is an
    error, never silently dropped).

    Example:
        >>> search = Agent(name="search", description="Greps files.", tools=[])
        >>> dev = Agent(name="dev", subagents=[search], max_subagent_depth=1)

    Answer checks: ``answer_check`` is a callable ``(answer: str, messages:
    list[BaseMessage]) -> str | None`` run when the agent ends with a text answer (a reply
    without tool calls; not after the forced last call of ``max_steps`` or the loop guard,
    not when the budget ends it). ``answer`` is the reply's text, ``messages`` the
    agent's history with that reply last. ``None`` accepts the answer; a string is sent back
    to the agent as a correction (a runtime-marked ``HumanMessage``, like the output-schema
    nudge) and the agent goes on. After ``max_output_retries`` corrections (shared with
    output-schema corrections) the agent ends with its last answer, status ``completed``, the
    complaint as the result's ``error`` and as stop reason ``answer_check`` on its last AI
    message. It is called synchronously in the model node; exceptions propagate. Agents with
    an ``output_schema`` end by ``final_answer`` and take no ``answer_check``. Ready-made:
    ``subagents.tools.paths_exist(root)`` for file explorers.

    Retries and timeouts: ``retry`` (LangGraph's ``RetryPolicy``, or a dict of its fields)
    runs a delegation to this agent again, as a fresh task, when an attempt raises or ends
    ``failed`` or ``timeout``; ``timeout`` (seconds) ends an attempt still running then as
    ``timeout``, cancelling the child and its descendants. Both hold for sync, parallel and
    background delegations and for dispatcher jobs; see :mod:`subagents.nodes.retry`.

    Money: ``pricing`` prices models by name in USD per million tokens, for this agent and
    the sub-agents under it (a sub-agent's own entries win); models it does not name are
    priced by ``genai-prices``, local models cost 0 (see :mod:`subagents.runtime.cost`).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    name: str = Field(description="Identifier: letters, digits, '_' or '-', at most 64.")
    description: str = Field(default="", description="What the parent model reads about it.")
    system_prompt: str = Field(default="", description="The agent's own system prompt.")
    model: BaseChatModel | str | None = Field(
        default=None,
        description="A chat model, an init_chat_model string ('openai:gpt-4o-mini'), or None "
        "to inherit the parent's model (the root falls back to subagents.models).",
    )
    tools: tuple[BaseTool, ...] = Field(default=(), description="LangChain tools it may call.")
    subagents: tuple[Agent | str, ...] = Field(
        default=(),
        description="Allow list of sub-agents: Agent specs, or names of itself or an "
        "ancestor (self-delegation and cycles, bounded by the depth limit).",
    )
    output_schema: type[BaseModel] | None = Field(
        default=None, description="Pydantic model the agent must return via final_answer."
    )
    input_schema: type[BaseModel] | None = Field(
        default=None,
        description="Arguments of its per-agent tool instead of objective/context; the task "
        "message is the first of message/query/text/content present, else the input as JSON.",
    )
    tool_name: str | None = Field(default=None, description="Override of 'task_<name>'.")
    tool_description: str | None = Field(default=None, description="Override of the tool text.")
    max_steps: int = Field(default=25, ge=1, description="Model calls per delegation.")
    tool_timeout: float | None = Field(
        default=None, gt=0, allow_inf_nan=False,
        description="Seconds each call of its own tools may take (None: no limit); a call "
        "still running then ends as an error tool result ('timed out after N s'). An async "
        "tool is cancelled; a sync tool cannot be interrupted and is left running in its "
        "thread while the run goes on. with_timeout(tool, s) overrides it per tool.",
    )
    max_subagent_depth: int | None = Field(
        default=None, ge=0,
        description="Delegation levels below this agent (1: children only, 0: none). None "
        "inherits what remains of the parent's limit (a root's None means 1); an explicit "
        "value can only lower the inherited one.",
    )
    delegation: Literal["task", "per_agent"] = Field(
        default="task", description="'task': one task tool; 'per_agent': task_<name> tools."
    )
    delegation_context: bool = Field(
        default=True, description="Offer the free-text 'context' argument on task tools."
    )
    persistent: bool = Field(
        default=False,
        description="Keep one history across calls from the same parent thread, in its own "
        "checkpoint thread (subagents.checkpoints.threads); default: a fresh history per call.",
    )
    persistence: Callable[[Any, Any], tuple[Any, str]] | None = Field(
        default=None,
        description="(agent, parent_config) -> (checkpointer, thread_id): where a persistent "
        "sub-agent's history lives instead of the parent's checkpointer.",
    )
    max_output_retries: int = Field(
        default=2, ge=0,
        description="Corrections sent back to fix: invalid final_answer attempts (output "
        "schema) or answers answer_check rejected.",
    )
    answer_check: AnswerCheck | None = Field(
        default=None,
        description="check(answer, messages) -> None (accepted) or a correction sent back to "
        "the agent; run on text answers only, bounded by max_output_retries.",
    )
    background: bool | BackgroundConfig = Field(
        default=False,
        description="Allow background delegation (task(..., background=true)) and bind the "
        "lifecycle tools agent_status / agent_cancel / agent_await. True: defaults.",
    )
    budget: Budget | None = Field(
        default=None, description="Limits for this agent's whole call tree (with ancestors')."
    )
    loop_guard: LoopGuard | None = Field(
        default_factory=LoopGuard,
        description="Stops a task that repeats an identical tool call with an identical result "
        "max_repeats times (the agent ends failed, 'stopped by the loop guard'); None: off.",
    )
    first_call: FirstCall | None = Field(
        default=None,
        description="A call of one of its own tools the runtime makes before its first model "
        "call of each task, '{task}' in a text argument set to the task (see FirstCall).",
    )
    needs_approval: tuple[str, ...] = Field(
        default=(), description="Names of its tools (own, delegation 'task'/'task_<name>', "
        "lifecycle) whose every call waits for a human's approval (an interrupt)."
    )
    on_subagent_event: Callable[[list[str], Any], Any] | None = Field(
        default=None,
        description="fn(path, event) for every event below this agent (subagents.events).",
    )
    remote: RemoteSpec | None = Field(
        default=None,
        description="The agent is a graph deployed on a LangGraph server, run through "
        "LangGraph's RemoteGraph (see Agent.from_remote).",
    )
    graph: GraphSpec | None = Field(
        default=None,
        description="The agent is a compiled LangGraph graph or a Runnable of your own, run "
        "in-process (see Agent.from_graph); a 'package.module:attr' string is imported.",
    )
    retry: SkipValidation[RetryPolicy | None] = Field(
        default=None,
        description="Run a delegation to this agent again when it raises or ends 'failed' "
        "or 'timeout' (LangGraph's RetryPolicy, or a dict of its fields; see "
        "subagents.nodes.retry).",
    )
    timeout: float | None = Field(
        default=None, gt=0,
        description="Seconds one delegation attempt to this agent may run before it ends "
        "'timeout' and the child and its descendants are cancelled.",
    )
    pricing: dict[str, tuple[float, float]] | None = Field(
        default=None,
        description="Model name -> (USD per million input tokens, USD per million output "
        "tokens), for models genai-prices does not know or that you pay otherwise; "
        "inherited by sub-agents (their own entries win).",
    )

    @classmethod
    def from_remote(cls, url: str, graph_id: str, *, name: str, description: str = "",
                    **options: Any) -> Agent:
        """Declare a sub-agent that runs as graph ``graph_id`` on the LangGraph server ``url``.

        Args:
            url: the server's base URL.
            graph_id: a graph id of its ``langgraph.json`` or an assistant id.
            name: the agent's name in the parent's tree.
            description: what the parent model reads about it.
            **options: ``RemoteSpec`` fields (``headers``, ``api_key``, ``timeout``,
                ``configurable``, ``cancel_timeout``) and the ``Agent`` fields that make sense
                for a remote child (``persistent``, ``tool_name``, ``tool_description``,
                ``input_schema``, ``output_schema``).

        Example:
            >>> research = Agent.from_remote("http://127.0.0.1:2024", "research",
            ...                              name="research", description="Researches.")
        """
        remote_keys = set(RemoteSpec.model_fields) - {"url", "graph_id"}
        spec = RemoteSpec(url=url, graph_id=graph_id,
                          **{k: v for k, v in options.items() if k in remote_keys})
        rest = {k: v for k, v in options.items() if k not in remote_keys}
        return cls(name=name, description=description, remote=spec, **rest)

    @classmethod
    def from_graph(cls, graph: Any, *, name: str, description: str = "",
                   input: Callable[[str], Any] | None = None,
                   output: Callable[[Any], Any] | None = None, **options: Any) -> Agent:
        """Declare a sub-agent that is a compiled LangGraph graph or any ``Runnable``.

        The graph sees only the task: ``{"messages": [task message]}`` (a graph whose state
        has ``messages``), or ``input(task_text)``; the parent gets only the result: the final
        state's ``structured_response`` when set, else its last AI message's text, or
        ``output(final_state)``. Its model and tool calls count in the usage tree and the
        tree's budget and appear as events under the child's ancestry path (see
        :mod:`subagents.subgraphs.foreign`).

        Args:
            graph: a compiled graph (``create_agent``, a ``StateGraph`` of your own), any
                ``Runnable``, or a ``"package.module:attr"`` reference to one (or to a
                function of no arguments returning one).
            name: the agent's name in the parent's tree.
            description: what the parent model reads about it.
            input: ``input(task_text) -> graph input`` for a graph without ``messages``.
            output: ``output(final_state) -> result`` (JSON-ready) for such a graph.
            **options: the ``Agent`` fields that make sense for a graph (``max_steps``:
                its recursion limit is ``2 * max_steps + 6``; ``persistent``, ``retry``,
                ``timeout``, ``tool_name``, ``tool_description``, ``input_schema``).

        Raises:
            pydantic.ValidationError: ``graph`` is no Runnable, or a field a graph cannot
                take (``model``, ``tools``, ``subagents``, ``output_schema``, ...) is set.

        Example:
            >>> from langchain_core.runnables import RunnableLambda
            >>> echo = Agent.from_graph(RunnableLambda(lambda text: text.upper()), name="echo",
            ...                         input=lambda text: text)
        """
        spec = GraphSpec(graph=graph, input=input, output=output)
        return cls(name=name, description=description, graph=spec, **options)

    @property
    def background_config(self) -> BackgroundConfig | None:
        """The effective background settings, or None when background delegation is off."""
        if self.background is True:
            return BackgroundConfig()
        return self.background or None

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return _strict_scalar(cls, value, info)

    @field_validator("tool_name")
    @classmethod
    def _check_tool_name(cls, value: str | None) -> str | None:
        return tool_name(value)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return agent_name(value)

    @field_validator("graph", mode="before")
    @classmethod
    def _coerce_graph(cls, value: Any) -> Any:
        if value is None or isinstance(value, GraphSpec | dict):
            return value
        return GraphSpec(graph=value)

    @field_validator("retry", mode="before")
    @classmethod
    def _coerce_retry(cls, value: Any) -> Any:
        return retry_policy(value)

    @field_validator("pricing", mode="before")
    @classmethod
    def _check_pricing(cls, value: Any) -> Any:
        return price_table(value)

    @field_validator("tools", mode="before")
    @classmethod
    def _coerce_tools(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_as_tool(item) for item in value)
        return value

    @field_validator("output_schema", "input_schema", mode="before")
    @classmethod
    def _check_schema(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, type) and issubclass(value, BaseModel)):
            msg = f"must be a pydantic BaseModel subclass, got {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_tree(self) -> Agent:
        tool_names(self.name, [t.name for t in self.tools])
        check_foreign(self)
        if self.answer_check is not None and self.output_schema is not None:
            msg = (f"agent {self.name!r}: field 'answer_check': an agent with output_schema "
                   "ends by final_answer, which its schema validates; answer_check checks text "
                   "answers")
            raise ValueError(msg)
        seen: dict[str, Agent] = {}
        for agent in iter_agents(self):
            other = seen.setdefault(agent.name, agent)
            if other is not agent:
                msg = (
                    f"agent {self.name!r}: field 'subagents': duplicate agent name "
                    f"{agent.name!r} in the tree (names must be unique)"
                )
                raise ValueError(msg)
        for agent in seen.values():
            _check_tool_clashes(agent, seen)
        return self

    @property
    def delegation_tool_name(self) -> str:
        """Name of this agent's per-agent tool on its parent: ``tool_name`` or ``task_<name>``."""
        return self.tool_name or f"task_{self.name}"


def iter_agents(root: Agent) -> Iterator[Agent]:
    """Yield every distinct Agent object of a tree once (depth first, root first)."""
    seen: set[int] = set()
    stack: list[Agent] = [root]
    while stack:
        agent = stack.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        yield agent
        stack.extend(reversed([s for s in agent.subagents if isinstance(s, Agent)]))


def _check_tool_clashes(agent: Agent, tree: dict[str, Agent]) -> None:
    """Refuse a child delegation tool named like a parent's tool or another child's.

    One of the two would be unreachable.
    """
    taken: dict[str, tuple[str | None, str]] = {
        t.name: (None, f"{agent.name}'s tool {t.name!r}") for t in agent.tools}
    for ref in agent.subagents:
        child = tree.get(ref) if isinstance(ref, str) else ref
        if child is None:
            continue
        tool = child.delegation_tool_name
        owner, other = taken.setdefault(
            tool, (child.name, f"sub-agent {child.name!r}'s delegation tool"))
        if owner != child.name:
            msg = (f"agent {agent.name!r}: field 'subagents': sub-agent {child.name!r} is "
                   f"delegated to by tool {tool!r}, the name of {other} (rename one)")
            raise ValueError(msg)


def _as_tool(item: Any) -> Any:
    if isinstance(item, BaseTool) or not callable(item):
        return item
    fn: Callable[..., Any] = item
    return make_tool(fn)
