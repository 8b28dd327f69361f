"""Shared fixtures. Tests never reach a network model: see ``_no_network_models``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_network_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point every OpenAI-compatible client at a closed loopback port unless marked real."""
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUBAGENTS_MODEL"):
        monkeypatch.delenv(key, raising=False)
    if not os.environ.get("SUBAGENTS_ALLOW_NETWORK"):
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    yield


@pytest.fixture(autouse=True)
def _checkpoints_hold_registered_types() -> Iterator[None]:
    """Fail a test whose checkpoints hold a type LangGraph's serializer does not allow.

    Under ``LANGGRAPH_STRICT_MSGPACK=true`` (``make test``) such a value comes back as raw
    data (a ``msgpack_blocked`` event). Without it LangGraph lets every type through with a
    warning for types no graph registered, which is not checked here.
    """
    from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener

    seen: list[str] = []
    unregister = register_serde_event_listener(
        lambda event: seen.append(f"{event['kind']}: {event['module']}.{event['name']}")
        if event["kind"] != "msgpack_unregistered_allowed" else None)
    yield
    unregister()
    assert not seen, f"checkpoint values blocked by the serializer: {sorted(set(seen))}"
