"""Input and output JSON schemas of every exported graph and of ``compile_agent`` output
(Studio builds its input form from them; they must build on Python 3.11 too)."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from subagents import Agent, Budget, compile_agent
from subagents.testing import ScriptedChatModel, ai

REPO = Path(__file__).resolve().parents[1]
EXPORTED = json.loads((REPO / "langgraph.json").read_text())["graphs"]
MODELS = {"explorer": "explorer_model", "research": "research_model"}


def _exported(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Build graph ``name`` the way ``langgraph.json`` names it (file and factory)."""
    monkeypatch.setenv("SUBAGENTS_MODEL", f"python:subagents.testing.demo:{MODELS[name]}")
    monkeypatch.setenv("SUBAGENTS_ROOT", str(tmp_path))
    file, factory = EXPORTED[name].rsplit(":", 1)
    spec = importlib.util.spec_from_file_location(f"_schemas_{name}", REPO / file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    graph = getattr(module, factory)()
    return asyncio.run(graph) if inspect.iscoroutine(graph) else graph  # an async factory


def _messages_schema(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object" and schema["required"] == ["messages"]
    assert schema["properties"]["messages"]["type"] == "array"


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_exported_graphs_have_input_and_output_schemas(
        name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert set(EXPORTED) == set(MODELS)  # a new exported graph needs its demo model here
    graph = _exported(name, monkeypatch, tmp_path)
    _messages_schema(graph.get_input_jsonschema())
    output = graph.get_output_jsonschema()
    _messages_schema(output)
    assert output["properties"]["usage"]["type"] == "object"


class Verdict(BaseModel):
    ok: bool
    notes: list[str]


@pytest.mark.parametrize("output_schema", [None, Verdict])
def test_compiled_agents_have_input_and_output_schemas(output_schema: type | None) -> None:
    model = ScriptedChatModel(policy=lambda m: ai("x"))
    child = Agent(name="child", output_schema=output_schema)
    graph = compile_agent(Agent(name="root", model=model, subagents=[child],
                                output_schema=output_schema))
    _messages_schema(graph.get_input_jsonschema())
    output = graph.get_output_jsonschema()
    _messages_schema(output)
    if output_schema is None:
        assert "structured_response" not in output["properties"]
    else:  # the output schema's own fields, not an untyped value
        ref = output["properties"]["structured_response"]["$ref"].rsplit("/", 1)[-1]
        assert set(output["$defs"][ref]["properties"]) == {"ok", "notes"}


@pytest.mark.parametrize("output_schema", [None, Verdict])
def test_only_an_agent_under_a_budget_has_the_budget_spent_channel(
        output_schema: type | None) -> None:
    """An agent with a ``Budget`` and every agent below it checkpoint their spent counters
    (``budget_spent``); the others have no such channel (each costs every step)."""
    model = ScriptedChatModel(policy=lambda m: ai("x"))
    leaf = Agent(name="leaf", output_schema=output_schema)
    capped = Agent(name="capped", output_schema=output_schema, subagents=[leaf],
                   budget=Budget(max_model_calls=2))
    plain = Agent(name="plain", output_schema=output_schema)
    root = Agent(name="root", model=model, subagents=[plain, capped],
                 output_schema=output_schema, max_subagent_depth=2)

    def channels(graph: Any) -> dict[str, bool]:
        found = {graph.name: "budget_spent" in graph.channels}
        for _, sub in graph.get_subgraphs():
            found |= channels(sub)
        return found

    assert channels(compile_agent(root)) == {"root": False, "plain": False, "capped": True,
                                             "leaf": True}
    budgeted = compile_agent(root.model_copy(update={"budget": Budget(max_tokens=10**6)}))
    assert channels(budgeted) == {"root": True, "plain": True, "capped": True, "leaf": True}
    assert "budget_spent" in budgeted.get_output_jsonschema()["properties"]
