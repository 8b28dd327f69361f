"""``ScriptedChatModel``: a deterministic, concurrency-safe chat model for tests.

It knows which agent is calling from the ``lc_agent_name`` metadata that every subagents
model call carries (set by ``compile_agent``), falling back to ``None`` for foreign callers.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import PrivateAttr, SkipValidation

from subagents.errors import SubagentsError

__all__ = ["ModelCall", "Policy", "ScriptExhaustedError", "ScriptedChatModel", "Step", "ai", "call"]

Step = AIMessage | str | BaseException | Callable[[list[BaseMessage]], AIMessage | str]
"""One scripted reply: a message, a text, an exception to raise, or a function of the input."""
Policy = Callable[..., AIMessage | str]
"""``policy(messages)`` or ``policy(messages, agent)`` -> the reply (stateless: safe to share)."""



class ScriptExhaustedError(SubagentsError, AssertionError):
    """The script has no step left for the calling agent, or steps were left unused."""


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One recorded model call.

    Attributes:
        agent: the calling agent's name (``lc_agent_name`` metadata) or None.
        messages: the messages the model received (system prompt first when set).
        tools: names of the tools bound for this call, in binding order.
        reply: what the model returned.
    """

    agent: str | None
    messages: list[BaseMessage]
    tools: list[str]
    reply: AIMessage | None = field(default=None, compare=False)


def _new_id() -> str:
    # unique across processes too: a resumed run must never reuse an id of the crashed one
    return f"call_{uuid.uuid4().hex[:16]}"


def call(name: str, /, **args: Any) -> ToolCall:
    """Make a tool call for a scripted step; its id is unique (``call_<16 hex>``)."""
    return ToolCall(name=name, args=args, id=_new_id(), type="tool_call")


def ai(content: str | ToolCall = "", /, *calls: ToolCall) -> AIMessage:
    """Make a scripted AI reply: ``ai("text")``, ``ai(call(...), call(...))`` or both."""
    if not isinstance(content, str):
        calls, content = (content, *calls), ""
    return AIMessage(content=content, tool_calls=list(calls))


class ScriptedChatModel(BaseChatModel):
    """A chat model driven by a script or a stateless policy, for tests and benchmarks.

    Give either ``steps`` (a list shared by every caller, or a mapping agent name -> list,
    consumed in order under a lock) or ``policy`` (a function of the messages, safe under any
    concurrency). Every call is recorded in ``calls``; ``assert_complete()`` fails when steps
    are left. ``latency`` (seconds) is slept before each reply (``asyncio.sleep`` when async).
    Replies carry ``usage_metadata`` estimated as characters / 4 tokens. ``model_name``
    (default ``"scripted"``) is the name an agent's ``pricing`` prices it by:
    ``Agent(pricing={"scripted": (1.0, 2.0)})``; unpriced, its calls cost None.
    """

    steps: SkipValidation[list[Step] | dict[str, list[Step]] | None] = None
    policy: SkipValidation[Policy | None] = None
    latency: float = 0.0
    model_name: str = "scripted"

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[ModelCall] = PrivateAttr(default_factory=list)
    _cursor: dict[str | None, int] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> ScriptedChatModel:
        """An independent copy: its script, calls and cursor as they are now, its own lock.

        (Pydantic's deep copy would copy the lock, which cannot be copied.)
        """
        with self._lock:
            fields = copy.deepcopy(self.__dict__, memo)
            calls, cursor = copy.deepcopy(self._calls, memo), dict(self._cursor)
        clone = type(self).model_construct(**fields)
        clone._calls, clone._cursor = calls, cursor
        return clone

    @property
    def calls(self) -> list[ModelCall]:
        """Every call so far, in the order they were answered."""
        with self._lock:
            return list(self._calls)

    def calls_by(self, agent: str | None) -> list[ModelCall]:
        """The calls one agent made."""
        return [c for c in self.calls if c.agent == agent]

    @property
    def bound_tools(self) -> dict[str | None, list[str]]:
        """Agent name -> tool names of its latest call."""
        return {c.agent: c.tools for c in self.calls}

    def assert_complete(self) -> None:
        """Raise ``ScriptExhaustedError`` when scripted steps were never used."""
        left = {a: len(s) - self._cursor.get(a, 0) for a, s in self._scripts().items()}
        left = {a: n for a, n in left.items() if n > 0}
        if left:
            msg = f"unused scripted steps per agent: {left}"
            raise ScriptExhaustedError(msg)

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; only their names are used (recorded per call)."""
        return self.bind(tools=[_tool_name(t) for t in tools], **kwargs)

    def _scripts(self) -> Mapping[str | None, list[Step]]:
        if self.steps is None:
            return {}
        if isinstance(self.steps, dict):
            return dict(self.steps.items())
        return {None: self.steps}

    def _next_step(self, agent: str | None) -> Step:
        scripts = self._scripts()
        key = agent if isinstance(self.steps, dict) else None
        if key not in scripts:
            msg = f"no script for agent {agent!r} (scripted: {sorted(map(str, scripts))})"
            raise ScriptExhaustedError(msg)
        with self._lock:
            i = self._cursor.get(key, 0)
            if i >= len(scripts[key]):
                msg = f"script for agent {agent!r} exhausted after {i} steps"
                raise ScriptExhaustedError(msg)
            self._cursor[key] = i + 1
        return scripts[key][i]

    def _reply(self, messages: list[BaseMessage], agent: str | None, tools: list[str]) -> AIMessage:
        step: Step
        if self.policy is not None:
            reply = self.policy(messages, agent) if _arity(self.policy) >= 2 else self.policy(
                messages)
            step = reply
        else:
            step = self._next_step(agent)
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, AIMessage | str):
            step = step(messages)
        out = AIMessage(content=step) if isinstance(step, str) else step.model_copy(deep=True)
        out.tool_calls = [
            {**tc, "id": tc.get("id") or _new_id()} for tc in out.tool_calls
        ]
        chars_in = sum(len(str(m.content)) for m in messages)
        chars_out = len(str(out.content)) + sum(len(str(tc["args"])) for tc in out.tool_calls)
        out.usage_metadata = {
            "input_tokens": chars_in // 4 + 1,
            "output_tokens": chars_out // 4 + 1,
            "total_tokens": chars_in // 4 + chars_out // 4 + 2,
        }
        with self._lock:
            self._calls.append(ModelCall(agent, list(messages), tools, out))
        return out

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency:
            time.sleep(self.latency)
        agent = _agent_of(run_manager)
        return ChatResult(generations=[ChatGeneration(message=self._reply(
            messages, agent, list(kwargs.get("tools", []))))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        agent = _agent_of(run_manager)
        return ChatResult(generations=[ChatGeneration(message=self._reply(
            messages, agent, list(kwargs.get("tools", []))))])


@functools.lru_cache(maxsize=256)
def _arity(policy: Callable[..., Any]) -> int:
    return len(inspect.signature(policy).parameters)


def _agent_of(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> str | None:
    if run_manager is None:
        return None
    name = run_manager.metadata.get("lc_agent_name")
    return str(name) if name is not None else None


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        fn = tool.get("function")
        return str(fn["name"]) if isinstance(fn, dict) else str(tool.get("name"))
    return str(getattr(tool, "name", None) or getattr(tool, "__name__", tool))
