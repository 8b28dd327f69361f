"""Model endpoints fail fast and say where (``subagents.models``, ``EndpointChatOpenAI``).

An OpenAI-compatible endpoint that accepts connections and never answers, one that refuses
them, and one that stalls mid-stream end the call with ``ModelEndpointError`` naming the
base URL, the model, the agent and the number of tries, within the configured timeouts; a
child's endpoint failure is its delegation's ``failed`` result with that message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai._base_client as openai_client
import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from fakes.openai_server import FakeOpenAI, hang, ok, refused_port, truncated
from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.errors import ModelEndpointError
from subagents.models import model_from_string
from subagents.testing import ScriptedChatModel, ai, call

BOUND = 20.0


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts and back-off so a silent endpoint gives up in well under a second."""
    monkeypatch.setattr(openai_client, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.setenv("SUBAGENTS_MODEL_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("SUBAGENTS_MODEL_CONNECT_TIMEOUT", "0.3")
    monkeypatch.setenv("SUBAGENTS_MODEL_MAX_RETRIES", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def endpoint(monkeypatch: pytest.MonkeyPatch, base_url: str) -> Any:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    return model_from_string("openai:fake-model")


async def test_a_silent_endpoint_gives_up_after_its_tries_and_names_url_model_agent(
        server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(hang(5), hang(5))
    root = Agent(name="root", model=endpoint(monkeypatch, server.base_url))
    graph = compile_agent(root)
    with pytest.raises(ModelEndpointError) as err:
        await asyncio.wait_for(graph.ainvoke({"messages": [HumanMessage("hi")]}), BOUND)
    text = str(err.value)
    assert server.base_url in text and "'fake-model'" in text and "agent 'root'" in text
    assert "timed out after 2 tries" in text and "read timeout 0.3 s" in text
    assert server.count == 2
    assert isinstance(err.value, RuntimeError)


async def test_a_refused_connection_names_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{refused_port()}/v1"
    model = endpoint(monkeypatch, url)
    with pytest.raises(ModelEndpointError, match=r"could not connect after 2 tries") as err:
        await asyncio.wait_for(model.ainvoke("hi"), BOUND)
    assert url in str(err.value)


def test_sync_calls_fail_the_same_way(server: FakeOpenAI,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(hang(5), hang(5))
    with pytest.raises(ModelEndpointError, match="timed out after 2 tries"):
        endpoint(monkeypatch, server.base_url).invoke("hi")


async def test_a_stream_that_stalls_is_a_typed_endpoint_error(
        server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(truncated())
    model = endpoint(monkeypatch, server.base_url)
    with pytest.raises(ModelEndpointError, match="fake-model"):
        await asyncio.wait_for(model.ainvoke("hi"), BOUND)


async def test_a_working_endpoint_streams_with_usage(server: FakeOpenAI,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(ok("hello"))
    reply = await endpoint(monkeypatch, server.base_url).ainvoke("hi")
    assert reply.content == "hello"
    assert reply.usage_metadata is not None and reply.usage_metadata["total_tokens"] > 0
    assert server.requests[0]["stream"] is True


async def test_a_childs_silent_endpoint_is_its_failed_result_and_the_parent_goes_on(
        server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(hang(5), hang(5))
    child = Agent(name="child", description="d", model=endpoint(monkeypatch, server.base_url))

    def policy(messages: list[Any], agent: str | None) -> Any:
        if isinstance(messages[-1], HumanMessage):
            return ai(call("task", agent="child", objective="go"))
        return ai("parent done")

    root = Agent(name="root", subagents=[child], model=ScriptedChatModel(policy=policy))
    out = await asyncio.wait_for(
        compile_agent(root).ainvoke({"messages": [HumanMessage("hi")]}), BOUND)
    result = DelegationResult.from_message(
        next(m for m in out["messages"] if isinstance(m, ToolMessage)))
    assert result.status is Status.FAILED
    assert result.error is not None and server.base_url in result.error
    assert "agent 'child'" in result.error
    assert out["messages"][-1].content == "parent done"
