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
