"""Pins the upstream names no public API serves (``subagents.runtime.upstream``).

Each private name is checked where it lives upstream (so a release that moves one fails
here, naming it, before anything else) and for what the package relies on it to do. The
public names used instead of private ones (``langgraph.constants.CONFIG_KEY_CHECKPOINTER``,
``RemoteGraph.client``/``sync_client``) are pinned too.
"""

from __future__ import annotations

import asyncio
import importlib
import warnings
from typing import Any, TypedDict
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from subagents.runtime import upstream

PRIVATE = [
    ("CONFIG_KEY_STREAM", "langgraph._internal._constants", "CONFIG_KEY_STREAM"),
    ("CONFIG_KEY_DURABILITY", "langgraph._internal._constants", "CONFIG_KEY_DURABILITY"),
    ("CONFIG_KEY_RESUME_MAP", "langgraph._internal._constants", "CONFIG_KEY_RESUME_MAP"),
    ("CONFIG_KEY_RESUMING", "langgraph._internal._constants", "CONFIG_KEY_RESUMING"),
    ("CONFIG_KEY_RUNTIME", "langgraph._internal._constants", "CONFIG_KEY_RUNTIME"),
    ("CONFIG_KEY_SCRATCHPAD", "langgraph._internal._constants", "CONFIG_KEY_SCRATCHPAD"),
    ("RunnableCallable", "langgraph._internal._runnable", "RunnableCallable"),
    ("StreamMessagesHandler", "langgraph.pregel._messages", "StreamMessagesHandler"),
    ("StreamingCallbackHandler", "langchain_core.tracers._streaming",
     "_StreamingCallbackHandler"),
]


@pytest.mark.parametrize(("name", "module", "attr"), PRIVATE, ids=[p[0] for p in PRIVATE])
def test_each_private_name_is_where_the_adapter_takes_it(name: str, module: str,
                                                         attr: str) -> None:
    found = getattr(importlib.import_module(module), attr, None)
    assert found is not None, f"upstream moved {module}.{attr} (subagents.runtime.upstream)"
    assert getattr(upstream, name) is found


HOOKS = ["AsyncImpl", "has_async_impl", "skip_subgraph_runs", "wrap_async_impl"]
"""The adapter's functions over private hooks (``BaseTool._arun``, the subgraph counter)."""


def test_the_adapter_exports_exactly_its_names() -> None:
    assert sorted(upstream.__all__) == sorted([*(p[0] for p in PRIVATE), *HOOKS])


def test_checkpointer_key_is_public_and_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecation would mean it went private
        from langgraph.constants import CONFIG_KEY_CHECKPOINTER
    saver = InMemorySaver()
    seen = _node_config(checkpointer=saver, config={"configurable": {"thread_id": "t"}})
    # the graph's saver (LangGraph may hand nodes a copy with its serializer's allow list)
    assert type(seen["configurable"][CONFIG_KEY_CHECKPOINTER]) is InMemorySaver


def test_remote_graph_clients_are_public_attributes() -> None:
    graph = RemoteGraph("g", url="http://127.0.0.1:1")
    assert graph.client is not None and graph.sync_client is not None
    bare = RemoteGraph("g", client=graph.client)
    assert bare.sync_client is None  # what RemoteChild checks before a sync run


class _S(TypedDict, total=False):
    x: int


def _node_config(*, checkpointer: Any = None, config: RunnableConfig | None = None,
                 stream_mode: Any = None, **kwargs: Any) -> RunnableConfig:
    """The config one node of a one-node graph runs with."""
    seen: list[RunnableConfig] = []

    def node(state: _S, config: RunnableConfig) -> _S:
        seen.append(config)
        return {"x": 1}

    builder = StateGraph(_S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile(checkpointer=checkpointer)
    if stream_mode is None:
        graph.invoke({"x": 0}, config, **kwargs)
    else:
        list(graph.stream({"x": 0}, config, stream_mode=stream_mode, **kwargs))
    return seen[-1]


def test_stream_key_holds_the_runs_stream() -> None:
    conf = _node_config(stream_mode="custom", subgraphs=True)["configurable"]
    stream = conf[upstream.CONFIG_KEY_STREAM]  # the run's stream, for nested graphs too
    assert callable(stream) and "custom" in stream.modes
    assert upstream.CONFIG_KEY_STREAM not in _node_config()["configurable"]


def test_runtime_and_durability_keys_hold_the_runs_values() -> None:
    conf = _node_config(checkpointer=InMemorySaver(), config={"configurable": {"thread_id": "t"}},
                        context={"user": "u"}, durability="exit")["configurable"]
    runtime = conf[upstream.CONFIG_KEY_RUNTIME]
    assert isinstance(runtime, Runtime) and runtime.context == {"user": "u"}
    assert conf[upstream.CONFIG_KEY_DURABILITY] == "exit"


def test_resume_keys_hold_the_resume_values() -> None:
    seen: list[RunnableConfig] = []

    def node(state: _S, config: RunnableConfig) -> _S:
        seen.append(config)
        return {"x": interrupt("?")}

    builder = StateGraph(_S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile(checkpointer=InMemorySaver())
    cfg: RunnableConfig = {"configurable": {"thread_id": "t"}}
    (pending,) = graph.invoke({"x": 0}, cfg)["__interrupt__"]
    graph.invoke(Command(resume={pending.id: 7}), cfg)
    assert seen[-1]["configurable"][upstream.CONFIG_KEY_RESUME_MAP] == {pending.id: 7}
    cfg2: RunnableConfig = {"configurable": {"thread_id": "t2"}}
    graph.invoke({"x": 0}, cfg2)
    graph.invoke(Command(resume=8), cfg2)
    pad = seen[-1]["configurable"][upstream.CONFIG_KEY_SCRATCHPAD]
    assert hasattr(pad, "get_null_resume")


def test_skipped_subgraph_runs_move_the_next_runs_namespace() -> None:
    """The k-th subgraph run of a task checkpoints at ``<task ns>|<k - 1>``; skips count."""
    inner = StateGraph(_S)
    inner.add_node("inc", lambda s: {"x": s["x"] + 1})
    inner.add_edge(START, "inc")
    child = inner.compile()

    def node(state: _S, config: RunnableConfig) -> _S:
        child.invoke(state)
        upstream.skip_subgraph_runs(dict(config), 2)
        return child.invoke(state)

    builder = StateGraph(_S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    saver = InMemorySaver()
    builder.compile(checkpointer=saver).invoke({"x": 0}, {"configurable": {"thread_id": "t"}})
    spaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(None)}
    (task_ns,) = {ns for ns in spaces if ns.startswith("node:") and "|" not in ns}
    assert spaces == {"", task_ns, f"{task_ns}|3"}
    upstream.skip_subgraph_runs({"configurable": {}}, 2)  # not in a node: nothing to skip


def test_messages_mode_attaches_the_stream_messages_handler() -> None:
    callbacks = _node_config(stream_mode="messages")["callbacks"]
    handlers = getattr(callbacks, "handlers", callbacks) or []
    assert any(isinstance(h, upstream.StreamMessagesHandler) for h in handlers)


def test_runnable_callable_runs_both_halves_untraced() -> None:
    node = upstream.RunnableCallable(lambda x: x + 1, _plus_two, name="n", trace=False)
    assert node.invoke(1) == 2
    assert asyncio.run(node.ainvoke(1)) == 3


async def _plus_two(x: int) -> int:
    return x + 2


class _Tokens(BaseCallbackHandler, upstream.StreamingCallbackHandler[Any]):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output


def test_a_streaming_marked_handler_makes_invoke_stream() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("a b c")]))
    handler = _Tokens()
    reply = model.invoke("hi", {"callbacks": [handler]})
    assert reply.content == "a b c"
    assert "".join(handler.tokens) == "a b c"


@tool
def _sync_tool(x: int) -> int:
    """Double x."""
    return 2 * x


@tool
async def _async_tool(x: int) -> int:
    """Double x."""
    return 2 * x


class _OwnAsync(BaseTool):
    name: str = "own"
    description: str = "a tool class with its own _arun"

    def _run(self, x: int) -> int:
        return x

    async def _arun(self, x: int) -> int:
        return x


class _SyncClass(BaseTool):
    name: str = "sync"
    description: str = "a tool class with _run only"

    def _run(self, x: int) -> int:
        return x


def test_has_async_impl_tells_tools_ainvoke_would_run_in_an_executor() -> None:
    assert not upstream.has_async_impl(_sync_tool)
    assert upstream.has_async_impl(_async_tool)
    assert upstream.has_async_impl(_OwnAsync())
    assert not upstream.has_async_impl(_SyncClass())
    both = StructuredTool.from_function(func=lambda x: x, coroutine=_async_tool.coroutine,
                                        name="both", description="both")
    assert upstream.has_async_impl(both)


@pytest.mark.parametrize(("original", "doubled"),
                         [(_async_tool, 4), (_OwnAsync(), 2), (_SyncClass(), 2)],
                         ids=["async function", "own _arun", "sync class"])
async def test_wrap_async_impl_is_what_ainvoke_awaits(original: BaseTool, doubled: int) -> None:
    seen: list[dict[str, Any]] = []

    def wrap(inner: upstream.AsyncImpl) -> upstream.AsyncImpl:
        async def arun(*args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return await inner(*args, **kwargs)
        return arun

    wrapped = upstream.wrap_async_impl(original, wrap)
    assert await wrapped.ainvoke({"x": 2}) == doubled
    assert len(seen) == 1 and seen[0]["x"] == 2
    assert await original.ainvoke({"x": 2}) == doubled and len(seen) == 1  # untouched
