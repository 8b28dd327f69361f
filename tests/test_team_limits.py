"""Team files never hang, crash or run code they should not: bounded size, depth and alias
expansion, typed line-numbered errors for bad bytes and bad values, ``trusted=False``.

Cases that used to hang or exhaust memory run in a sandboxed child (``_sandbox``): a
regression fails with ``timeout`` / ``crash`` instead of freezing the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _team_sandbox import load_in_sandbox, run_case
from subagents.cli.main import app
from subagents.errors import SpecError, TeamFileError
from subagents.teams import MAX_DEPTH, MAX_NODES, MAX_TEAM_BYTES, load_team

VALID = "agents:\n  - name: dev\n"


def bomb(levels: int) -> str:
    """The classic 'billion laughs': ``levels`` lists of nine aliases of the one before."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + VALID


def first_line_over() -> int:
    """The line of ``bomb`` whose aliases take the document over ``MAX_NODES`` values."""
    total, size = 1, 10  # the top mapping; a0's list and its nine scalars
    for line in range(1, 20):
        total += 1 + size  # the key and its list
        if total > MAX_NODES:
            return line
        size = 1 + 9 * size
    raise AssertionError("unreachable")


def write(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "team.yaml"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


def error_of(tmp_path: Path, data: str | bytes) -> TeamFileError:
    path = write(tmp_path, data)
    with pytest.raises(TeamFileError) as info:
        load_team(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: "), info.value
    return info.value


@pytest.mark.parametrize("levels", [5, 7, 9])
def test_alias_bombs_fail_fast_at_their_line(tmp_path: Path, levels: int) -> None:
    outcome = load_in_sandbox(write(tmp_path, bomb(levels)))
    assert outcome.status == "error", outcome
    assert outcome.line == first_line_over(), outcome
    assert f"expands to more than {MAX_NODES} values" in outcome.detail


def test_a_small_alias_tree_is_no_error_of_its_own(tmp_path: Path) -> None:
    error = error_of(tmp_path, bomb(2))  # about 900 values: within the limit
    assert (error.line, "unknown field 'a0'" in str(error)) == (1, True)


def test_small_aliases_and_merge_keys_still_load(tmp_path: Path) -> None:
    text = """\
defaults: &defaults {max_steps: 3, description: Shared.}
agents:
  - &dev {name: dev, subagents: [helper], tools: &tools [grep]}
  - <<: *defaults
    name: helper
    max_steps: 4
    tools: *tools
"""
    data = text.replace("defaults: &defaults", "x-defaults: &defaults")
    # an unknown top-level key is still an error, reported at its line
    assert error_of(tmp_path, data).line == 1
    ok = "agents:\n" + text.split("agents:\n", 1)[1].replace(
        "<<: *defaults", "<<: {max_steps: 3, description: Shared.}")
    helper = load_team(write(tmp_path, ok)).subagents[0]
    assert not isinstance(helper, str)
    assert (helper.max_steps, helper.description, [t.name for t in helper.tools]) == (
        4, "Shared.", ["grep"])


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: &a [1, *a]\n" + VALID, 1, "inside its own anchor"),
    ("agents:\n  - name: dev\n    description: &d {x: [*d]}\n", 3, "inside its own anchor"),
    ("agents:\n  - name: dev\n" + "    x: " + "[" * 10_000 + "]" * 10_000 + "\n", 3,
     f"nested deeper than {MAX_DEPTH} levels"),
    ("agents:\n  - name: dev\n    description: " + "{a: " * 500 + "1" + "}" * 500, 3,
     f"nested deeper than {MAX_DEPTH} levels"),
    ("agents:\n  - {name: dev, x: " + "[" * 500_000 + "\n", 2,  # quadratic in PyYAML
     f"nested deeper than {MAX_DEPTH} levels"),
])
def test_recursive_aliases_and_deep_nesting_are_errors(tmp_path: Path, text: str, line: int,
                                                       words: str) -> None:
    outcome = load_in_sandbox(write(tmp_path, text))
    assert (outcome.status, outcome.line) == ("error", line), outcome
    assert words in outcome.detail


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "#" * MAX_TEAM_BYTES + "\n")
    outcome = load_in_sandbox(path)
    assert outcome.status == "error", outcome
    assert outcome.detail == (f"{path}: the file is larger than {MAX_TEAM_BYTES} bytes, "
                              "the limit of a team file")


@pytest.mark.parametrize(("data", "line", "words"), [
    (b"agents:\n  - name: dev\n    description: a\x00b\n", 3, "a NUL byte"),
    (b"agents:\n  - name: dev\xff\n", 2, "not UTF-8 text (byte 0xff)"),
    ("agents:\n  - name: dev\n    description: \ud800\n", 3, "not UTF-8 text"),
    (b"agents:\n  - name: dev\n\n    description: \x01\n", 4, "special characters"),
    ("agents:\n  - name: dev\nroot: [dev]\n", 3, "'root' must be an agent name"),
    ("agents:\n  - name: dev\nroot: {dev: 1}\n", 3, "'root' must be an agent name"),
    ("agents:\n  - name: dev\n    tools: []\n    tools: [grep]\n", 4,
     "duplicate key 'tools' (first at line 3)"),
    ("agents:\n  - name: dev\nagents: []\n", 3, "duplicate key 'agents' (first at line 1)"),
    ("agents:\n  - name: dev\n    max_steps: '5'\n", 3, "field 'max_steps': must be int"),
    ("agents:\n  - name: dev\n    max_steps: true\n", 3, "field 'max_steps': must be int"),
    ("agents:\n  - name: dev\n    persistent: 1\n", 3, "field 'persistent': must be bool"),
    ("agents:\n  - name: \"dev\\n\"\n", 2, "invalid agent name"),
])
def test_bad_bytes_and_values_are_line_numbered_errors(tmp_path: Path, data: str | bytes,
                                                       line: int, words: str) -> None:
    error = error_of(tmp_path, data)
    assert error.line == line, error
    assert words in str(error)


SCHEMA = "agents:\n  - name: dev\n    output_schema:\n      type: object\n      properties:\n"


@pytest.mark.parametrize(("props", "line", "words"), [
    ("        1: {type: string}\n        '1': {type: string}\n", 7,
     "properties 1 and '1' are both '1' in JSON"),
    ("        n: {type: integer, default: '5'}\n", 6, "default '5' does not match"),
    ("        n: {type: integer, default: true}\n", 6, "default True does not match"),
    ("        s: {type: string, pattern: '(?<=a)b'}\n", 6, "invalid 'pattern'"),
    ("        s: {type: string, minLength: -1}\n", 6, "'minLength' must be a non-negative"),
    ("        b: {type: boolean, maximum: 3}\n", 6, "'maximum' applies to type integer"),
    ("        s: {type: string, description: [x]}\n", 6, "'description' must be a string"),
])
def test_schema_errors_are_line_numbered(tmp_path: Path, props: str, line: int,
                                         words: str) -> None:
    error = error_of(tmp_path, SCHEMA + props)
    assert error.line == line, error
    assert words in str(error)


def test_plain_and_aliased_property_names_never_overwrite_each_other(tmp_path: Path) -> None:
    team = load_team(write(tmp_path, SCHEMA + "        field_1: {type: string}\n"
                                               "        a-b: {type: integer}\n"
                                               '        "c\\n": {type: boolean}\n'))
    assert team.output_schema is not None
    value = team.output_schema.model_validate({"field_1": "x", "a-b": 2, "c\n": True})
    assert value.model_dump() == {"field_1": "x", "a-b": 2, "c\n": True}


def test_mappings_are_bounded_like_files() -> None:
    cyclic: dict[str, Any] = {"name": "dev"}
    cyclic["description"] = [cyclic]
    deep: list[Any] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    for data, words in [({"agents": [cyclic]}, "contains itself"),
                        ({"agents": [{"name": "dev", "x": deep}]}, "nested deeper")]:
        with pytest.raises(TeamFileError, match=words) as info:
            load_team(data)
        assert (info.value.file, info.value.line) == ("<mapping>", None)


@pytest.mark.parametrize("model", ["python:os:abort", "PYTHON:os:abort", " python:os:getcwd",
                                   "anthropic:claude"])
def test_untrusted_files_refuse_python_models(tmp_path: Path, model: str) -> None:
    path = write(tmp_path, f"agents:\n  - name: dev\n    model: {model!r}\n")
    with pytest.raises(TeamFileError, match="field 'model'") as info:
        load_team(path, trusted=False)
    assert info.value.line == 3
    if model.strip().lower().startswith("python"):
        assert "refused in an untrusted team file" in str(info.value)
        assert load_team(path).model == model  # trusted: kept as a string until compiled


def test_untrusted_files_accept_plain_model_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  - name: dev\n    model: openai:gpt-4o-mini\n"
                           "    subagents: [helper]\n  - name: helper\n    model: local\n")
    assert load_team(path, trusted=False).model == "openai:gpt-4o-mini"


def test_cli_untrusted_refuses_python_teams_and_models(tmp_path: Path) -> None:
    runner = CliRunner()
    path = write(tmp_path, "agents:\n  - name: dev\n    model: python:os:abort\n")
    result = runner.invoke(app, ["graph", str(path), "--untrusted"])
    assert result.exit_code == 1
    assert "refused in an untrusted team file" in " ".join(result.output.split())
    assert runner.invoke(app, ["graph", str(path)]).exit_code == 0
    result = runner.invoke(app, ["run", "os:getcwd", "hi", "--untrusted"])
    assert result.exit_code == 1
    assert "an untrusted team must be a YAML file" in " ".join(result.output.split())


def test_team_file_error_is_a_spec_error() -> None:
    error = TeamFileError("t.yaml", 4, "bad")
    assert isinstance(error, SpecError)
    assert (str(error), error.file, error.line) == ("t.yaml:4: bad", "t.yaml", 4)


def test_the_sandbox_turns_a_hang_and_a_memory_hog_into_failures() -> None:
    assert run_case("spin", seconds=1.0).status == "timeout"
    outcome = run_case("hog")
    assert outcome.status == "crash"
    assert "MemoryError" in outcome.detail
