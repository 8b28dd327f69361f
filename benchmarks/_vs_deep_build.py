"""The shared scripted policy and the graph builders of ``vs_deepagents.py``.

Five implementations of "a root model delegates to a child sub-agent through a tool call":
``ours`` (this runtime), ``hand`` (a hand-written LangGraph pair, children gathered in one
node), ``hand_send`` (hand-written, one ``Send`` per tool call; fan-out diagnostic only),
``deep_default`` (``deepagents.create_deep_agent`` with its defaults, as its users run it) and
``deep_min`` (deepagents stripped to the minimum its API allows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import _hand as hand
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver

from subagents import Agent, compile_agent
from subagents.nodes.schemas import task_spec
from subagents.testing import ScriptedChatModel, call

CHILD_PREFIX = "subtask"
CHILD_PROMPT = "You answer one subtask."
DEEP_MIN_ROOT = "deep_root"
DEEP_DEFAULT_ROOT = "deep_default_root"
DEEP_ROOTS = frozenset({DEEP_MIN_ROOT, DEEP_DEFAULT_ROOT})

# --------------------------------------------------------------------------- the shared policy


def policy(messages: list[BaseMessage], agent: str | None = None) -> AIMessage:
    """One stateless script for every implementation.

    The child is recognised by its task text (``subtask ...``), whichever runtime called; the
    root's task says what to do (``seq:N``: N delegations one per turn, ``fan:N``: N in one
    turn). Only the tool-call *schema* differs: deepagents' ``task`` takes
    ``description``/``subagent_type``, ours (and the hand-written graphs') ``agent``/
    ``objective``. A deepagents root is recognised by ``lc_agent_name`` (deepagents sets it
    from ``name=``), falling back to its always-present system message.
    """
    task = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    text = str(task.content)
    if text.startswith(CHILD_PREFIX):
        return AIMessage(content=f"answer to {text}")
    deep = agent in DEEP_ROOTS or (agent is None and isinstance(messages[0], SystemMessage))

    def delegate(i: int) -> Any:
        if deep:
            return call("task", subagent_type="child", description=f"{CHILD_PREFIX} {i}")
        return call("task", agent="child", objective=f"{CHILD_PREFIX} {i}")

    kind, _, count = text.partition(":")
    n, done = int(count), sum(isinstance(m, ToolMessage) for m in messages)
    if kind == "seq" and done < n:
        return AIMessage(content="", tool_calls=[delegate(done)])
    if kind == "fan" and done == 0:
        return AIMessage(content="", tool_calls=[delegate(i) for i in range(n)])
    return AIMessage(content=f"root answer from {done} results")


class UnprofiledScriptedChatModel(ScriptedChatModel):
    """The same scripted model under another class name.

    deepagents keys harness profiles by provider, and a model without its own
    ``_get_ls_params`` reports its lower-cased class name as provider: this one reports
    ``unprofiledscriptedchatmodel``, so the profile ``deep_min`` registers for
    ``scriptedchatmodel`` does not reach ``deep_default``.
    """


def make_model(variant: str, **kwargs: Any) -> ScriptedChatModel:
    cls = UnprofiledScriptedChatModel if variant == "deep_default" else ScriptedChatModel
    return cls(policy=policy, **kwargs)


CHILD_SPEC = Agent(name="child", description="Answers one subtask.")
TASK_TOOL = task_spec([CHILD_SPEC], with_context=True)
Saver = BaseCheckpointSaver[Any] | None

# --------------------------------------------------------------------------- builders


def build_ours(model: ScriptedChatModel, saver: Saver) -> Any:
    return compile_agent(Agent(name="root", model=model, subagents=[CHILD_SPEC]),
                         checkpointer=saver)


# The hand-written pieces (state, child, parent, ToolMessage) live in _hand.py, shared with
# delegation.py and background.py; here: async nodes, default json.dumps, ids passed through.


def build_hand(model: ScriptedChatModel, saver: Saver) -> Any:
    """Parent: model (``task`` bound) -> delegate (child graphs, ``asyncio.gather`` inside
    ONE node: a fan-out is one task, not durable per call) -> model."""
    child = hand.build_child(model, is_async=True)

    async def delegate(state: hand.State) -> dict[str, Any]:
        calls = state["messages"][-1].tool_calls
        return {"messages": list(await asyncio.gather(*(hand.run_child(child, tc)
                                                        for tc in calls)))}

    return hand.build_parent(model.bind_tools([TASK_TOOL]), delegate, hand.route_delegate,
                             checkpointer=saver)


def build_hand_send(model: ScriptedChatModel, saver: Saver) -> Any:
    """LangGraph's own fan-out idiom by hand: one ``Send`` per tool call to a node that invokes
    the child (one task per call, as this runtime does). Diagnostic only."""
    child = hand.build_child(model, is_async=True)
    return hand.build_send_parent(model.bind_tools([TASK_TOOL]), child, checkpointer=saver)


DEEP_EXCLUDED = ("SummarizationMiddleware", "PatchToolCallsMiddleware",
                 "AnthropicPromptCachingMiddleware")
DEEP_MIN_NOTE = (
    "deep_min (info): a harness profile for the scripted model's provider excluding "
    f"{', '.join(DEEP_EXCLUDED)} and disabling the general-purpose sub-agent; "
    "FilesystemMiddleware(tools=['read_file']) on root and child (the least it accepts). "
    "What remains is not removable through its API: FilesystemMiddleware (`read_file`, the "
    "`files` channel), SubAgentMiddleware (`task`, state copied down / merged back), "
    "_ParentNotifierMiddleware, UnsupportedContentMiddleware, DeltaChannel `messages`, "
    "recursion_limit 9999."
)
DEEP_DEFAULT_NOTE = (
    "deep_default (the target's reference: deepagents as its users run it): "
    "create_deep_agent(model=..., name=..., subagents=[{name: 'child', description: ..., "
    "system_prompt: ...}], checkpointer=...), every other argument at its default (deepagents' "
    "README quick start plus one sub-agent; no root system_prompt, so the root gets an empty "
    "SystemMessage): StateBackend, the general-purpose sub-agent and the full default "
    "middleware stacks. Its model is UnprofiledScriptedChatModel (a subclass under another "
    "name, hence another provider) so deep_min's harness profile does not apply; a real model "
    "may get one of deepagents' built-in per-model profiles (prompt suffixes, for some extra "
    "middleware), this one gets none. It has no `profile` either, so deepagents' summarization "
    "uses its fixed-count fallback (compaction at 170k tokens, tool-argument truncation scan "
    "past 20 messages) instead of fractions of the context window; nothing is compacted here."
)
_PROFILE_REGISTERED = False


def _register_deep_min_profile(model: ScriptedChatModel) -> None:
    global _PROFILE_REGISTERED
    if _PROFILE_REGISTERED:
        return
    from deepagents import GeneralPurposeSubagentProfile, HarnessProfile, register_harness_profile
    from deepagents._models import get_model_provider

    provider = get_model_provider(model) or "scriptedchatmodel"
    register_harness_profile(provider, HarnessProfile(
        excluded_middleware=frozenset(DEEP_EXCLUDED),
        general_purpose_subagent=GeneralPurposeSubagentProfile(enabled=False)))
    _PROFILE_REGISTERED = True


def build_deep_min(model: ScriptedChatModel, saver: Saver) -> Any:
    from deepagents import FilesystemMiddleware, create_deep_agent
    from deepagents.backends import StateBackend

    if isinstance(model, UnprofiledScriptedChatModel):
        raise TypeError("deep_min needs the plain ScriptedChatModel (its profile's provider)")
    _register_deep_min_profile(model)
    backend = StateBackend()
    child = {"name": "child", "description": "Answers one subtask.", "system_prompt": "",
             "tools": [],
             "middleware": [FilesystemMiddleware(backend=backend, tools=["read_file"])]}
    return create_deep_agent(
        model=model, name=DEEP_MIN_ROOT, backend=backend,
        subagents=[child],  # type: ignore[list-item]
        middleware=[FilesystemMiddleware(backend=backend, tools=["read_file"])],
        checkpointer=saver)


def build_deep_default(model: ScriptedChatModel, saver: Saver) -> Any:
    from deepagents import create_deep_agent

    return create_deep_agent(
        model=model, name=DEEP_DEFAULT_ROOT,
        subagents=[{"name": "child", "description": "Answers one subtask.",
                    "system_prompt": CHILD_PROMPT}],
        checkpointer=saver)


BUILDERS: dict[str, Callable[[ScriptedChatModel, Saver], Any]] = {
    "ours": build_ours, "hand": build_hand, "hand_send": build_hand_send,
    "deep_default": build_deep_default, "deep_min": build_deep_min}

# --------------------------------------------------------------------------- verification


@contextmanager
def _record_create_agent() -> Iterator[dict[str, tuple[int, list[str]]]]:
    """Record, per agent name, how often deepagents calls ``create_agent`` and with which
    middleware."""
    import deepagents.graph as dg
    import deepagents.middleware.subagents as ds

    seen: dict[str, tuple[int, list[str]]] = {}
    attr, modules = "create_agent", (dg, ds)
    originals = [getattr(mod, attr) for mod in modules]

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def recording(model: Any, *args: Any, **kwargs: Any) -> Any:
            name = str(kwargs.get("name"))
            mws = [m.name for m in kwargs.get("middleware", ())]
            seen[name] = (seen.get(name, (0, []))[0] + 1, mws)
            return original(model, *args, **kwargs)
        return recording

    for mod, original in zip(modules, originals, strict=True):
        setattr(mod, attr, wrap(original))
    try:
        yield seen
    finally:
        for mod, original in zip(modules, originals, strict=True):
            setattr(mod, attr, original)


def describe_deep(variant: str) -> list[str]:
    """Build one deepagents variant untimed; return its provider, profile and stacks."""
    from deepagents._models import get_model_provider

    model = make_model(variant)
    with _record_create_agent() as stacks:
        BUILDERS[variant](model, None)
    try:
        from deepagents.profiles.harness.harness_profiles import (
            HarnessProfile,
            _harness_profile_for_model,
        )
        profile = _harness_profile_for_model(model, None)
        prof = "none (deepagents' default)" if profile == HarnessProfile() else (
            f"excluded_middleware={sorted(map(str, profile.excluded_middleware))}, "
            f"general_purpose_subagent={profile.general_purpose_subagent}")
    except ImportError:  # a private module: report, do not fail
        prof = "n/a"
    lines = [f"{variant}: model {type(model).__name__}, provider "
             f"{get_model_provider(model)!r}, harness profile: {prof}"]
    lines += [f"  {name} (built {n}x): {mws}" for name, (n, mws) in stacks.items()]
    if variant == "deep_default" and not {"SummarizationMiddleware",
                                          "PatchToolCallsMiddleware"} <= set(
                                              stacks.get(DEEP_DEFAULT_ROOT, (0, []))[1]):
        lines.append("  WARNING: deep_default lacks deepagents' default middleware")
    return lines
