"""Team files: loading, errors with line numbers, JSON-schema outputs, cycles, sharing."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from pydantic import BaseModel, ValidationError

from subagents import Agent, FirstCall, LoopGuard, SpecError, compile_agent
from subagents.teams import (
    load_team,
    model_from_json_schema,
    team_dot,
    team_graph_cycles,
    team_mermaid,
)
from subagents.testing import ScriptedChatModel, ai, call

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_team(path, root=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}:")


def test_example_team_file_loads(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("TIMEOUT = 30\n")
    dev = load_team(EXAMPLES / "codebase_explorer.yaml", root=tmp_path)
    assert dev.name == "dev"
    assert dev.max_subagent_depth == 2
    assert dev.delegation_context is False
    assert dev.system_prompt.startswith("You answer questions about the code base.")
    (explore,) = dev.subagents
    assert isinstance(explore, Agent)
    assert [t.name for t in explore.tools] == ["find", "read_file"]
    assert explore.subagents == ()
    assert explore.first_call == FirstCall(tool="find", args={"query": "{task}"})
    assert all(2 <= a.max_steps <= 4 for a in (dev, explore))
    assert all(3 <= len(a.system_prompt.strip().splitlines()) <= 5 for a in (dev, explore))
    # explore's answers may name only files under the root (or seen in its tool results)
    assert explore.answer_check is not None
    # dev's answer may name only what explore's result (or the question) shows
    assert dev.answer_check is not None
    assert dev.answer_check("TIMEOUT is in app.py.", []) is not None
    seen = [ToolMessage("app.py:1: TIMEOUT = 30", tool_call_id="1", name="find")]
    assert explore.answer_check("It is app.py:1.", seen) is None
    assert "`src/app.py` does not exist" in (explore.answer_check("src/app.py", seen) or "")
    # ... and only names and values its tool results (or its task) show
    assert "`31` (number)" in (explore.answer_check("It is 31, in app.py:1.", seen) or "")
    # tools are confined to the given root
    assert "app.py:1: TIMEOUT = 30" in explore.tools[0].invoke({"query": "TIMEOUT"})


def test_python_example_matches_the_yaml_team(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("example_team", EXAMPLES / "team.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from_py = module.build_team(tmp_path)
    from_yaml = load_team(EXAMPLES / "codebase_explorer.yaml", root=tmp_path)

    def shape(agent: Agent) -> dict[str, object]:
        # answer_check: a closure per load, compared by whether it is set
        data = agent.model_dump(exclude={"tools", "subagents", "model", "answer_check"})
        data["answer_check"] = agent.answer_check is not None
        data["tools"] = [t.name for t in agent.tools]
        data["subagents"] = [s if isinstance(s, str) else shape(s) for s in agent.subagents]
        return data

    assert shape(from_py) == shape(from_yaml)


@pytest.mark.parametrize(("text", "expected"), [
    ("""
     agents:
       - name: dev
         subagents: [explore]
       - name: explore
         tools: [list_files,
                 gerp]
     """, "6: agent 'explore': unknown tool 'gerp' (valid: find, grep, list_files, read_file); "
          "did you mean 'grep'?"),
    ("""
     agents:
       - name: dev
         max_step: 3
     """, "3: agent 'dev': unknown field 'max_step' (valid: "),
    ("""
     agents:
       - name: dev
         subagents:
           - search
           - serch
       - name: search
     """, "5: agent 'dev': unknown agent 'serch' (valid: dev, search); did you mean 'search'?"),
    ("""
     agents:
       - name: dev
       - name: dev
     """, "3: agent 'dev': duplicate agent name (first at "),
    ("""
     agent:
       - name: dev
     """, "1: unknown field 'agent' (valid: root, agents, max_files, mcp_servers); did you "
         "mean 'agents'?"),
    ("""
     root: boss
     agents:
       - name: dev
     """, "1: root 'boss' is no agent (valid: dev)"),
    ("""
     agents:
       - name: dev

         max_steps: 0
     """, "4: agent 'dev': field 'max_steps': Input should be greater than or equal to 1"),
    ("""
     agents:
       - name: dev
         delegation: parallel
     """, "3: agent 'dev': field 'delegation': Input should be 'task' or 'per_agent'"),
    ("""
     agents:
       - name: dev
         answer_check: path_exists
     """, "3: agent 'dev': unknown answer check 'path_exists' (valid: grounded, paths_exist); "
          "did you mean 'paths_exist'?"),
    ("""
     agents:
       - name: dev
         answer_check: [paths_exist, ground]
     """, "3: agent 'dev': unknown answer check 'ground' (valid: grounded, paths_exist); did "
          "you mean 'grounded'?"),
    ("""
     agents:
       - name: dev
         answer_check: []
     """, "3: agent 'dev': unknown answer check [] (valid: grounded, paths_exist)"),
    ("""
     agents:
       - name: dev
         answer_check: paths_exist
         output_schema: {type: object, properties: {a: {type: string}}}
     """, "2: agent 'dev': field 'answer_check': an agent with output_schema ends by "
          "final_answer"),
    ("""
     agents:
       - name: task
     """, "2: agent 'task': field 'name': agent name 'task' is reserved"),
    ("""
     agents:
       - name: dev
         model: 7
     """, "3: agent 'dev': field 'model' must be a model string"),
    ("""
     agents:
       - name: dev
         output_schema:
           type: object
           properties:
             files:
               type: array
               items: {type: strng}
     """, "8: agent 'dev': field 'output_schema': unknown type 'strng' (valid: array, "),
    ("""
     agents:
       - name: dev
         output_schema:
           type: object
           properties: {a: {type: string}}
           required: [b]
     """, "6: agent 'dev': field 'output_schema': required property 'b' is not in "
         "'properties' (a)"),
    ("""
     agents:
       - name: dev
         tools: grep
     """, "3: agent 'dev': field 'tools' must be a list of names"),
    ("""
     agents:
       - name: dev
         prompt: [unclosed
     """, "4: invalid YAML"),
    ("""
     agents: []
     """, "1: 'agents' must be a non-empty list of agents"),
    ("""
     agents:
       - name: dev
         loop_guard: 3
     """, "3: agent 'dev': field 'loop_guard' must be a mapping such as {max_repeats: 3}"),
    ("""
     agents:
       - name: dev
         loop_guard: {max_repeats: 0}
     """, "3: agent 'dev': field 'loop_guard': Input should be greater than or equal to 1"),
    ("""
     agents:
       - name: dev
         subagents: [a, b]
       - name: a
         subagents: [s]
       - name: b
         subagents: [s]
       - name: s
         subagents: [a]
     """, "7: agent 'b': sub-agent 's' is shared with another parent, but its allow lists "
          "name 'a', which is no ancestor on this path (dev > b)"),
])
def test_errors_name_the_line_and_the_agent(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(expected), message


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read the team file"):
        load_team(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match=r"team\.yaml:1: a team must be a mapping"):
        load_team(write(tmp_path, ""))


def test_mapping_input_and_default_root_is_the_first_agent() -> None:
    dev = load_team({"agents": [{"name": "dev", "subagents": ["helper"]}, {"name": "helper"}]})
    assert dev.name == "dev"
    assert [s.name for s in dev.subagents if isinstance(s, Agent)] == ["helper"]
    with pytest.raises(SpecError, match=r"^<mapping>: agent 'dev': unknown tool 'x'"):
        load_team({"agents": [{"name": "dev", "tools": ["x"]}]})


def test_loop_guard_per_agent(tmp_path: Path) -> None:
    dev = load_team(write(tmp_path, """
        agents:
          - name: dev
            loop_guard: {max_repeats: 5}
            subagents: [quiet, unset, plain]
          - name: quiet
            loop_guard: false
          - name: unset
            loop_guard: null
          - name: plain
        """))
    assert dev.loop_guard == LoopGuard(max_repeats=5)
    guards = {s.name: s.loop_guard for s in dev.subagents if isinstance(s, Agent)}
    assert guards == {"quiet": None, "unset": None, "plain": LoopGuard()}


def test_forward_references_self_reference_and_cycles(tmp_path: Path) -> None:
    path = write(tmp_path, """
        root: dev
        agents:
          - name: search
            subagents: [search]
          - name: explore
            subagents: [search, dev]
          - name: dev
            subagents: [explore]
            max_subagent_depth: 3
        """)
    dev = load_team(path, root=tmp_path)
    (explore,) = dev.subagents
    assert isinstance(explore, Agent)
    search, back = explore.subagents
    assert back == "dev"
    assert isinstance(search, Agent)
    assert search.subagents == ("search",)
    assert team_graph_cycles(dev) == [["dev", "explore", "dev"], ["search", "search"]]
    compile_agent(dev, model=ScriptedChatModel(steps=[]))  # the runtime accepts the cycles


def test_an_agent_with_two_parents_is_built_once() -> None:
    dev = load_team({"agents": [
        {"name": "dev", "subagents": ["a", "b"]},
        {"name": "a", "subagents": ["shared"]},
        {"name": "b", "subagents": ["shared", "dev"]},
        {"name": "shared", "subagents": ["dev"], "tools": ["grep"]},
    ]})
    a, b = dev.subagents
    assert isinstance(a, Agent) and isinstance(b, Agent)
    assert a.subagents[0] is b.subagents[0]
    assert team_graph_cycles(dev) == [["dev", "a", "shared", "dev"], ["dev", "b", "dev"],
                                      ["dev", "b", "shared", "dev"]]


def test_graph_text_marks_cycles() -> None:
    dev = load_team({"agents": [{"name": "dev", "subagents": ["end"]},
                                {"name": "end", "subagents": ["dev", "end"], "tools": ["grep"]}]})
    assert team_mermaid(dev).splitlines() == [
        "graph TD",
        "    %% cycle: dev -> end -> dev",
        "    %% cycle: end -> end",
        '    dev(["dev"])',
        '    agent_1["end<br/>tools: grep"]',
        "    dev --> agent_1",
        "    agent_1 -.->|cycle| dev",
        "    agent_1 -.->|self| agent_1",
    ]
    dot = team_dot(dev)
    assert '"end" -> "dev" [style=dashed, label="cycle"];' in dot
    assert "// cycle: end -> end" in dot
    assert team_graph_cycles(load_team({"agents": [{"name": "solo"}]})) == []


SCHEMA = {
    "type": "object",
    "description": "What explore found.",
    "properties": {
        "summary": {"type": "string", "description": "One sentence.", "minLength": 3},
        "files": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer", "minimum": 0},
        "score": {"type": "number"},
        "done": {"type": "boolean", "default": True},
        "kind": {"enum": ["code", "docs"]},
        "where": {"type": "object", "properties": {"path": {"type": "string"},
                                                   "line": {"type": ["integer", "null"]}},
                  "required": ["path"], "additionalProperties": False},
        "file-name": {"type": "string"},
    },
    "required": ["summary", "files"],
}


def test_json_schema_becomes_a_validating_model() -> None:
    model = model_from_json_schema(SCHEMA, "ExploreOutput")
    ok = model.model_validate({"summary": "found it", "files": ["a.py"], "count": 2,
                               "where": {"path": "a.py", "line": None}, "file-name": "x"})
    data = ok.model_dump(mode="json")
    assert data["where"] == {"path": "a.py", "line": None}
    assert data["done"] is True and data["score"] is None and data["file-name"] == "x"
    assert model.__doc__ == "What explore found."
    props = model.model_json_schema()["properties"]
    assert props["summary"]["description"] == "One sentence."
    bad = [
        {"files": []},                                        # summary required
        {"summary": "ok!", "files": "a.py"},                   # not an array
        {"summary": "ok!", "files": [], "count": -1},          # minimum
        {"summary": "no", "files": []},                        # minLength
        {"summary": "ok!", "files": [], "kind": "video"},      # enum
        {"summary": "ok!", "files": [], "where": {"line": 3}},  # nested required
        {"summary": "ok!", "files": [], "where": {"path": "a", "x": 1}},  # no extra keys
    ]
    for value in bad:
        with pytest.raises(ValidationError):
            model.model_validate(value)


async def test_yaml_output_schema_is_enforced_by_the_runtime() -> None:
    dev = load_team({"agents": [{"name": "dev", "subagents": ["explore"]},
                                {"name": "explore", "output_schema": SCHEMA}]})
    explore = dev.subagents[0]
    assert isinstance(explore, Agent) and explore.output_schema is not None
    assert issubclass(explore.output_schema, BaseModel)
    assert explore.output_schema.__name__ == "ExploreOutput"
    model = ScriptedChatModel(steps={
        "dev": [ai(call("task", agent="explore", objective="look")), ai("done")],
        "explore": [ai(call("final_answer", summary="found", files=["a.py"]))],
    })
    out = await compile_agent(dev, model=model).ainvoke({"messages": [HumanMessage("go")]})
    assert '"files": ["a.py"]' in out["messages"][2].content


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "array"}, "the top level must have type 'object'"),
    ({"type": "object", "properties": {"a": {"type": "string", "format": "uri"}}},
     "unsupported JSON Schema keyword 'format'"),
    ({"type": "object", "properties": {"a": {"type": ["string", "integer"]}}},
     "a type list may hold one type and 'null'"),
    ({"type": "object", "properties": {"a": {}}}, "missing 'type'"),
])
def test_unsupported_schemas_are_errors(schema: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model_from_json_schema(schema, "M")


async def test_yaml_answer_check_uses_the_team_root(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "real.py").write_text("def handler():\n    pass\n")
    dev = load_team({"agents": [
        {"name": "dev", "subagents": ["explore"]},
        {"name": "explore", "tools": ["grep"], "answer_check": "paths_exist"},
    ]}, root=tmp_path)
    grep = call("grep", pattern="def handler")
    model = ScriptedChatModel(steps={
        "dev": [ai(call("task", agent="explore", objective="Where is handler defined?")),
                ai("done")],
        "explore": [ai(grep), ai("handler is in src/app.py:1"), ai("handler is in pkg/real.py:1")],
    })
    out = await compile_agent(dev, model=model).ainvoke({"messages": [HumanMessage("go")]})
    assert '"result": "handler is in pkg/real.py:1"' in out["messages"][2].content
    nudge = model.calls_by("explore")[2].messages[-1]
    assert nudge.content.startswith("`src/app.py` does not exist under the root")
    assert "e.g. pkg/real.py." in nudge.content
    model.assert_complete()
