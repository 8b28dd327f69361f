"""Team files say what Agent says (budget, background, remote, ...), with a JSON Schema."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from subagents import Agent, SpecError
from subagents.cli import app
from subagents.spec import RemoteSpec
from subagents.spec.background import BackgroundConfig
from subagents.spec.budget import Budget
from subagents.teams import AGENT_FIELDS, AgentEntry, TeamFile, load_team, team_json_schema
from subagents.teams._file import BackgroundEntry, RemoteEntry, RetryEntry
from subagents.teams._reference import BEGIN, REGENERATE, SCHEMA_FILE, schema_text, update_page
from subagents.teams.loader import _TOP_FIELDS

REPO = Path(__file__).resolve().parents[1]
TEAM_FILES = sorted([*REPO.glob("examples/*.yaml"),
                     *REPO.glob("src/subagents/graphs/teams/*.yaml")])
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)")


def load_text(tmp_path: Path, text: str) -> Agent:
    path = tmp_path / "team.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_team(path, root=tmp_path)


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_text(tmp_path, text)
    return str(info.value).removeprefix(f"{tmp_path / 'team.yaml'}:")


def test_new_fields_reach_the_agents(tmp_path: Path) -> None:
    lead = load_text(tmp_path, """
        agents:
          - name: lead
            system_prompt: Plan first.
            subagents: [helper, research]
            budget: {max_model_calls: 40, max_tokens: 2000, max_seconds: 30}
            background: {max_concurrent: 2, timeout: 1.5, auto_cancel: false,
                         tools: [status, await], await_modes: [all]}
            needs_approval: [task]
          - name: helper
            background: true
          - name: research
            description: Researches.
            remote: {url: "http://127.0.0.1:2024", graph_id: research, timeout: 30,
                     headers: {X-Team: a}, configurable: {k: 1}, cancel_timeout: 2}
        """)
    assert lead.system_prompt == "Plan first."
    assert lead.budget == Budget(max_model_calls=40, max_tokens=2000, max_seconds=30)
    assert lead.background == BackgroundConfig(max_concurrent=2, timeout=1.5, auto_cancel=False,
                                               tools=("status", "await"), await_modes=("all",))
    assert lead.needs_approval == ("task",)
    helper, research = lead.subagents
    assert isinstance(helper, Agent) and helper.background is True
    assert isinstance(research, Agent)
    assert research.remote == RemoteSpec(url="http://127.0.0.1:2024", graph_id="research",
                                         timeout=30, headers={"X-Team": "a"},
                                         configurable={"k": 1}, cancel_timeout=2)


def test_max_files_caps_the_built_in_tools(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"f{i:02}.txt").write_text("plain\n")
    lead = load_text(tmp_path, """
        max_files: 12
        agents:
          - name: lead
            tools: [grep]
            subagents: [own]
          - name: own
            tools: [list_files]
            max_files: 5
        """)
    assert "12-entry limit" in lead.tools[0].invoke({"pattern": "nothing"})
    own = lead.subagents[0]
    assert isinstance(own, Agent)
    assert "5-entry limit" in own.tools[0].invoke({})
    default = load_text(tmp_path, "agents: [{name: a, tools: [grep]}]\n")
    assert "limit" not in default.tools[0].invoke({"pattern": "nothing"})


@pytest.mark.parametrize(("text", "expected"), [
    ("agents:\n  - name: a\n    prompt: x\n    system_prompt: y\n",
     "4: agent 'a': give 'prompt' or 'system_prompt' (the same field), not both"),
    ("agents:\n  - name: a\n    budget:\n      max_tokens: many\n",
     "4: agent 'a': field 'budget': max_tokens: Input should be a valid integer"),
    ("agents:\n  - name: a\n    budget:\n      max_token: 3\n",
     "4: agent 'a': field 'budget': unknown key 'max_token' (valid: max_model_calls, "
     "max_tool_rounds, max_tokens, max_seconds, max_cost); did you mean 'max_tokens'?"),
    ("agents:\n  - name: a\n    budget: 5\n",
     "3: agent 'a': field 'budget' must be a mapping of max_model_calls"),
    ("agents:\n  - name: a\n    background:\n      timeout: -1\n",
     "4: agent 'a': field 'background': timeout: Input should be greater than 0 (got -1)"),
    ("agents:\n  - name: a\n    background:\n      deliver: http://x\n",
     "4: agent 'a': field 'background': 'deliver' is a Python object"),
    ("agents:\n  - name: a\n    background: yes please\n",
     "3: agent 'a': field 'background' must be true, false or a mapping"),
    ("agents:\n  - name: a\n    background: {tools: [status, kill]}\n",
     "3: agent 'a': field 'background': tools.1: Input should be 'status', 'cancel', "
     "'await' or 'message'"),
    ("agents:\n  - name: a\n    needs_approval: task\n",
     "3: agent 'a': field 'needs_approval' must be a list of tool names"),
    ("agents:\n  - name: a\n    remote:\n      url: http://x\n      api_key: k\n",
     "5: agent 'a': field 'remote': 'api_key' is not read from a team file"),
    ("agents:\n  - name: a\n    remote:\n      url: http://x\n",
     "3: agent 'a': field 'remote': graph_id: Field required"),
    ("agents:\n  - name: a\n    prompt: p\n    remote: {url: 'http://x', graph_id: g}\n",
     "2: agent 'a': field 'remote': a remote agent runs on its server and takes no "
     "system_prompt"),
    ("agents:\n  - name: a\n    max_files: 0\n",
     "3: agent 'a': field 'max_files' must be an integer >= 1"),
    ("max_files: true\nagents: [{name: a}]\n", "1: field 'max_files' must be an integer >= 1"),
    ("agents:\n  - name: a\n    tools: [fs.read]\n"
     "mcp_servers: {fs: {command: /nonexistent/x, start_timeout: 5}}\n",
     "4: MCP server 'fs' failed to start"),
])
def test_new_fields_errors_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(expected), message


def test_the_loader_accepts_the_fields_of_the_model() -> None:
    assert set(AGENT_FIELDS) == set(AgentEntry.model_fields)
    assert set(_TOP_FIELDS) == set(TeamFile.model_fields)
    assert {v for v in AGENT_FIELDS.values() if v is not None} <= set(Agent.model_fields)
    plain = set(BackgroundConfig.model_fields) - {"deliver", "dispatcher"}
    assert set(BackgroundEntry.model_fields) == plain
    assert set(RemoteEntry.model_fields) == set(RemoteSpec.model_fields) - {"api_key"}
    from langgraph.types import RetryPolicy
    assert set(RetryEntry.model_fields) == set(RetryPolicy._fields) - {"retry_on"}


def _properties(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            found.append((f"{where}.{name}", prop))
        for key, value in node.items():
            if key != "properties":
                found += _properties(value, f"{where}.{key}")
    return found


def test_the_schema_describes_every_field() -> None:
    schema = team_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    props = _properties(schema)
    assert len(props) > 40
    assert [where for where, prop in props if not prop.get("description")] == []
    agent = schema["$defs"]["AgentEntry"]["properties"]
    assert "seconds" in agent["timeout"]["description"].lower()
    assert "tokens" in agent["budget"]["description"]


def test_the_shipped_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        f"team.schema.json is out of date; run: {REGENERATE}")


def test_the_docs_reference_is_up_to_date() -> None:
    page = (REPO / "docs" / "team-files.md").read_text(encoding="utf-8")
    assert BEGIN in page
    assert update_page(page) == page, f"docs/team-files.md is out of date; run: {REGENERATE}"


@pytest.mark.parametrize("path", TEAM_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_team_files_name_and_pass_the_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = MODELINE.fullmatch(text.splitlines()[0])
    assert first is not None, f"{path} lacks the yaml-language-server line"
    # the path is relative to the file as opened: a packaged team is opened through its
    # examples/ link, so the line must resolve from there
    opened = [p for p in REPO.glob("examples/*.yaml") if p.resolve() == path.resolve()]
    assert opened, f"{path} is neither in examples/ nor linked from there"
    for where in opened:
        assert (where.parent / first.group(1)).resolve() == SCHEMA_FILE.resolve()
    data = yaml.safe_load(text)
    jsonschema.validate(data, team_json_schema())
    TeamFile.model_validate(data)


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    schema = team_json_schema()
    for bad in ({"agents": []}, {"agents": [{"name": "a", "max_step": 3}]},
                {"agents": [{"name": "a", "budget": {"max_tokens": "x"}}]},
                {"agents": [{"name": "a", "background": {"deliver": "http://x"}}]},
                {"agents": [{"name": "a", "tools": ["not a tool"]}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_cli_schema_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == team_json_schema()


def test_the_docs_team_files_pass_the_schema_and_load(tmp_path: Path) -> None:
    page = (REPO / "docs" / "team-files.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", page, re.S)]
    teams = [b for b in blocks if b is not None]
    assert len(teams) >= 2
    for team in teams:
        jsonschema.validate(team, team_json_schema())
        illustrative = "mcp_servers" in team or any(  # names modules and servers of a reader's
            ":" in tool or "." in tool for agent in team["agents"]
            for tool in agent.get("tools", []))
        if not illustrative:
            assert isinstance(load_team(team, root=tmp_path), Agent)


def test_untrusted_team_files_name_no_remote_server(tmp_path: Path) -> None:
    text = "agents:\n  - name: a\n    remote: {url: 'http://x', graph_id: g}\n"
    (tmp_path / "team.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"team.yaml:3: agent 'a': field 'remote' sends"):
        load_team(tmp_path / "team.yaml", trusted=False)
    assert load_team(tmp_path / "team.yaml").remote is not None


def test_the_schema_names_every_built_in_answer_check() -> None:
    from typing import get_args

    from subagents.teams._file import CheckName
    from subagents.tools import BUILTIN_CHECKS

    assert set(get_args(CheckName)) == set(BUILTIN_CHECKS)
