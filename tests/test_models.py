"""Model resolution: every branch, no network (constructing ChatOpenAI makes no request)."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import subagents.local as local_pkg
import subagents.models as models
from subagents.errors import ModelResolutionError
from subagents.local import LocalChatModel, local_chat_model
from subagents.models import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TIMEOUT,
    is_local_model,
    model_from_string,
    parse_model_string,
    resolve_model,
)

ENV_VARS = (
    "SUBAGENTS_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "SUBAGENTS_MODEL_MAX_RETRIES",
    "SUBAGENTS_MODEL_TIMEOUT",
    "SUBAGENTS_MODEL_CONNECT_TIMEOUT",
    "SUBAGENTS_MODEL_READ_TIMEOUT",
)


class LocalSentinel(FakeListChatModel):
    """Stands for the embedded model; records the requested size."""

    size: str = ""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    calls: list[str] = []

    def fake_local(size: str) -> BaseChatModel:
        calls.append(size)
        return LocalSentinel(responses=["local"], size=size)

    monkeypatch.setattr(models, "_local_model", fake_local)
    return calls


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def fake(name: str = "x") -> FakeListChatModel:
    return FakeListChatModel(responses=[name])


# -- parse_model_string ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local", ("local", "1.5b")),
        ("LOCAL", ("local", "1.5b")),
        ("local:0.5b", ("local", "0.5b")),
        ("local:1.5B", ("local", "1.5b")),
        (" openai:gpt-4o-mini ", ("openai", "gpt-4o-mini")),
        ("gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("qwen2.5:7b", ("openai", "qwen2.5:7b")),
        ("my-org/model:latest", ("openai", "my-org/model:latest")),
    ],
)
def test_parse_model_string(text: str, expected: tuple[str, str]) -> None:
    assert parse_model_string(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("local:7b", "local:0.5b"),
        ("openai:", "no model name"),
        ("anthropic:claude-3-5-sonnet", "BaseChatModel instance"),
    ],
)
def test_parse_model_string_errors(text: str, fragment: str) -> None:
    with pytest.raises(ModelResolutionError, match=fragment):
        parse_model_string(text)


# -- resolution order -----------------------------------------------------------------------


def test_spec_model_instance_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "gpt-4o")
    mine = fake()
    assert resolve_model(mine, cli_model="local", fallback=fake("parent")) is mine


def test_spec_string_beats_cli_env_and_fallback(
    api_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "env-model")
    model = resolve_model("openai:spec-model", cli_model="cli-model", fallback=fake())
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "spec-model"


def test_cli_beats_env_and_fallback(api_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "env-model")
    model = resolve_model(None, cli_model="cli-model", fallback=fake())
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "cli-model"


def test_cli_model_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "env-model")
    mine = fake()
    assert resolve_model(None, cli_model=mine) is mine


def test_env_beats_fallback(api_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "openai:env-model")
    model = resolve_model(None, fallback=fake())
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "env-model"


def test_fallback_when_nothing_set(clean_env: list[str]) -> None:
    parent = fake("parent")
    assert resolve_model(None, fallback=parent) is parent
    assert clean_env == []


def test_embedded_local_is_last_resort(clean_env: list[str]) -> None:
    model = resolve_model(None)
    assert isinstance(model, LocalSentinel)
    assert clean_env == ["1.5b"]


def test_blank_cli_and_env_are_unset(clean_env: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL", "  ")
    parent = fake()
    assert resolve_model(None, cli_model="", fallback=parent) is parent


def test_blank_spec_string_is_an_error() -> None:
    with pytest.raises(ModelResolutionError, match="agent 'dev': model: empty"):
        resolve_model("", agent_name="dev")


@pytest.mark.parametrize(("where", "size"), [("spec", "0.5b"), ("cli", "1.5b"), ("env", "0.5b")])
def test_local_strings_from_every_source(
    where: str, size: str, clean_env: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "local" if size == "1.5b" else f"local:{size}"
    if where == "env":
        monkeypatch.setenv("SUBAGENTS_MODEL", text)
    model = resolve_model(
        text if where == "spec" else None, cli_model=text if where == "cli" else None
    )
    assert isinstance(model, LocalSentinel)
    assert clean_env == [size]


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ModelResolutionError, match="expected a BaseChatModel"):
        resolve_model(42, agent_name="x")  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["spec", "cli", "env"])
def test_error_names_the_source(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "env":
        monkeypatch.setenv("SUBAGENTS_MODEL", "gpt-4o")
    source = {"spec": "model", "cli": "--model", "env": "SUBAGENTS_MODEL"}[where]
    with pytest.raises(ModelResolutionError, match=f"agent 'a': {source}: .*OPENAI_API_KEY"):
        resolve_model(
            "gpt-4o" if where == "spec" else None,
            cli_model="gpt-4o" if where == "cli" else None,
            agent_name="a",
        )


# -- OpenAI-compatible construction ---------------------------------------------------------


def test_openai_defaults(api_key: None) -> None:
    model = model_from_string("openai:gpt-4o-mini")
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert model.max_retries == DEFAULT_MAX_RETRIES
    assert model.request_timeout == openai.Timeout(
        DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT, read=DEFAULT_READ_TIMEOUT)
    assert model.streaming and model.stream_usage
    assert model.stream_chunk_timeout == DEFAULT_READ_TIMEOUT
    assert model.openai_api_base is None
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-test"


@pytest.mark.parametrize("var", ["OPENAI_BASE_URL", "OPENAI_API_BASE"])
def test_base_url_without_key_uses_placeholder(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "http://127.0.0.1:11434/v1")
    model = model_from_string("qwen2.5:7b")
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "qwen2.5:7b"
    assert model.openai_api_base == "http://127.0.0.1:11434/v1"
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "not-needed"


def test_base_url_and_key(api_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.internal/v1")
    model = model_from_string("m")
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://gateway.internal/v1"
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-test"


def test_retry_and_timeout_from_env(api_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL_MAX_RETRIES", "7")
    monkeypatch.setenv("SUBAGENTS_MODEL_TIMEOUT", "2.5")
    model = model_from_string("m")
    assert isinstance(model, ChatOpenAI)
    assert model.max_retries == 7
    assert model.request_timeout == openai.Timeout(2.5)  # caps connect and read when unset


def test_connect_and_read_timeouts_from_env(api_key: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("SUBAGENTS_MODEL_READ_TIMEOUT", "30")
    model = model_from_string("m")
    assert isinstance(model, ChatOpenAI)
    assert model.request_timeout == openai.Timeout(DEFAULT_TIMEOUT, connect=1.0, read=30.0)
    assert model.stream_chunk_timeout == 30.0


def test_default_give_up_on_a_silent_endpoint_is_within_a_minute() -> None:
    """Worst case with the defaults: every try waits the read timeout, plus the backoff."""
    backoff = sum(min(0.5 * 2**i, 8.0) for i in range(DEFAULT_MAX_RETRIES))
    assert (DEFAULT_MAX_RETRIES + 1) * DEFAULT_READ_TIMEOUT + backoff < 60


@pytest.mark.parametrize("value", ["many", "-1"])
def test_bad_retry_variable(value: str, api_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_MODEL_MAX_RETRIES", value)
    with pytest.raises(ModelResolutionError, match="SUBAGENTS_MODEL_MAX_RETRIES"):
        model_from_string("m")


def test_resolved_model_supports_bind_tools(api_key: None) -> None:
    @tool
    def grep(pattern: str) -> str:
        """Search files for a regex."""
        return pattern

    bound: Any = resolve_model("m").bind_tools([grep])
    assert bound.kwargs["tools"][0]["function"]["name"] == "grep"


# -- local models ---------------------------------------------------------------------------


def _local(**kwargs: Any) -> LocalChatModel:
    return LocalChatModel(model="qwen", base_url="http://127.0.0.1:9/v1", api_key="local", **kwargs)


@tool
def grep(pattern: str) -> str:
    """Search files for a regex."""
    return pattern


@tool
def read_file(path: str) -> str:
    """Read a file."""
    return path


def test_is_local_model() -> None:
    assert is_local_model(_local())
    assert is_local_model(_local().bind_tools([grep]))
    assert not is_local_model(ChatOpenAI(model="m", api_key="k"))
    assert not is_local_model(fake())
    assert not is_local_model(object())


def test_is_local_model_recognises_running_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeServer:
        port = 4321
        base_url = "http://127.0.0.1:4321/v1"

    monkeypatch.setattr(local_pkg, "running_servers", lambda: [FakeServer()])
    plain = ChatOpenAI(model="m", api_key="k", base_url="http://127.0.0.1:4321/v1/")
    assert is_local_model(plain)
    other = ChatOpenAI(model="m", api_key="k", base_url="http://127.0.0.1:4322/v1")
    assert not is_local_model(other)


def test_local_bind_tools_disables_parallel_calls() -> None:
    bound: Any = _local().bind_tools([grep, read_file])
    assert bound.kwargs["parallel_tool_calls"] is False
    assert "tool_choice" not in bound.kwargs
    assert len(bound.kwargs["tools"]) == 2


def test_local_bind_tools_parallel_can_be_overridden() -> None:
    bound: Any = _local().bind_tools([grep], parallel_tool_calls=True)
    assert bound.kwargs["parallel_tool_calls"] is True


@pytest.mark.parametrize(
    "choice", ["read_file", {"type": "function", "function": {"name": "read_file"}}]
)
def test_local_named_tool_choice_becomes_required(choice: Any) -> None:
    bound: Any = _local().bind_tools([grep, read_file], tool_choice=choice)
    assert bound.kwargs["tool_choice"] == "required"
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == ["read_file"]


@pytest.mark.parametrize(("choice", "sent"), [("required", "required"), ("any", "required")])
def test_local_generic_tool_choice_passes_through(choice: str, sent: str) -> None:
    bound: Any = _local().bind_tools([grep, read_file], tool_choice=choice)
    assert bound.kwargs["tool_choice"] == sent
    assert len(bound.kwargs["tools"]) == 2


def test_local_named_tool_choice_unknown() -> None:
    with pytest.raises(ValueError, match="not a bound tool"):
        _local().bind_tools([grep], tool_choice="nope")


def test_local_chat_model_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def fake_ensure(size: str) -> str:
        started.append(size)
        return "http://127.0.0.1:5555/v1"

    monkeypatch.setattr(local_pkg, "ensure_server", fake_ensure)
    model = local_chat_model("0.5b")
    assert started == ["0.5b"]
    assert isinstance(model, LocalChatModel)
    assert model.local_size == "0.5b"
    assert model.openai_api_base == "http://127.0.0.1:5555/v1"
    assert model.max_tokens == 512
    assert model.temperature == 0
    assert model.max_retries == 1
    assert is_local_model(model)


def test_real_local_branch_goes_through_local_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # restore the real models._local_model
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(local_pkg, "ensure_server", lambda size: "http://127.0.0.1:5556/v1")
    model = resolve_model("local:0.5b")
    assert isinstance(model, LocalChatModel)
    assert model.local_size == "0.5b"


def failing_factory() -> Any:
    """A ``python:`` model factory that raises (``model_from_string`` must say so, typed)."""
    raise RuntimeError("no credentials")


@pytest.mark.parametrize(("ref", "fragment"), [
    ("python:os:system", "model factory 'python:os:system' raised TypeError"),
    ("python:test_models:failing_factory", "raised RuntimeError: no credentials"),
    ("python:os:getcwd", "is not a BaseChatModel"),
    ("python:nope_mod:x", "cannot import model"),
])
def test_a_python_model_that_cannot_be_made_is_a_typed_error(ref: str, fragment: str) -> None:
    with pytest.raises(ModelResolutionError, match=re.escape(fragment)):
        model_from_string(ref)
