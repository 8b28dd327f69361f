"""Team files: ``tools:`` entries as import paths (``"package.module:attr"``) beside built-ins.

A ``BaseTool`` is used as it is, a plain function (sync or async) becomes a tool described by
its docstring; a path that fails to import, a missing attribute, an object that is no tool
and a function without a docstring are ``TeamFileError``s naming the line, the path and why;
``trusted=False`` refuses import paths.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from subagents import compile_agent
from subagents.errors import TeamFileError
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture(autouse=True)
def _fakes_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FAKES))


def team(tmp_path: Path, tools: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(textwrap.dedent(f"""\
        agents:
          - name: dev
            description: Uses its own tools.
            tools: {tools}
        """), encoding="utf-8")
    return path


def error(tmp_path: Path, tools: str, **kwargs: bool) -> TeamFileError:
    with pytest.raises(TeamFileError) as info:
        load_team(team(tmp_path, tools), root=tmp_path, **kwargs)
    return info.value


def test_import_paths_become_tools_beside_built_ins(tmp_path: Path) -> None:
    dev = load_team(team(tmp_path, '[grep, "team_tools:shout", "team_tools:count_words", '
                                   '"team_tools:reverse", "team_tools:Helpers.double"]'),
                    root=tmp_path)
    _, shout, count, reverse, double = dev.tools
    assert [t.name for t in dev.tools] == ["grep", "shout", "count_words", "reverse", "double"]
    assert shout.description == "Return the text in capitals."
    assert count.description == "Count the words of a text."
    assert shout.invoke({"text": "hi"}) == "HI"
    assert double.invoke({"n": 4}) == 8
    assert reverse.invoke({"text": "abc"}) == "cba"


async def test_an_agent_calls_an_import_path_tool(tmp_path: Path) -> None:
    dev = load_team(team(tmp_path, '["team_tools:shout", "team_tools:count_words"]'),
                    root=tmp_path)
    model = ScriptedChatModel(steps=[ai(call("shout", text="hi"), call("count_words",
                                                                      text="a b c")),
                                     ai("done")])
    out = await compile_agent(dev.model_copy(update={"model": model})).ainvoke(
        {"messages": [HumanMessage("go")]})
    assert [m.content for m in out["messages"] if isinstance(m, ToolMessage)] == ["HI", "3"]


@pytest.mark.parametrize(("tools", "reason"), [
    ('["no_such_module:shout"]',
     "tool 'no_such_module:shout': cannot import 'no_such_module': ModuleNotFoundError: "
     "No module named 'no_such_module'"),
    ('["broken_tools:thing"]',
     "tool 'broken_tools:thing': cannot import 'broken_tools': RuntimeError: broken on purpose"),
    ('["team_tools:missing"]',
     "tool 'team_tools:missing': module 'team_tools' has no attribute 'missing'"),
    ('["team_tools:Helpers.triple"]',
     "tool 'team_tools:Helpers.triple': module 'team_tools' has no attribute 'Helpers.triple'"),
    ('["team_tools:NOT_CALLABLE"]',
     "tool 'team_tools:NOT_CALLABLE' is a int, not a tool (a langchain BaseTool) or a function"),
    ('["team_tools:Helpers"]',
     "tool 'team_tools:Helpers' is a type, not a tool"),
    ('["team_tools:undocumented"]',
     "tool 'team_tools:undocumented': function 'undocumented' has no docstring"),
    ('["team_tools:"]', "tool 'team_tools:': an import path is 'package.module:attr'"),
    ('["team_tools.shout"]', "unknown tool 'team_tools.shout' (valid: find, grep, list_files, "
                             "read_file) (an import path is 'package.module:attr'"),
])
def test_bad_import_paths_name_the_line_the_path_and_why(tmp_path: Path, tools: str,
                                                         reason: str) -> None:
    exc = error(tmp_path, tools)
    assert exc.line == 4
    assert str(exc).startswith(f"{tmp_path / 'team.yaml'}:4: agent 'dev': {reason}"), str(exc)


def test_the_line_is_the_entry_of_a_block_list(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text('agents:\n  - name: dev\n    tools:\n      - grep\n'
                    '      - "team_tools:missing"\n', encoding="utf-8")
    with pytest.raises(TeamFileError, match=r"team\.yaml:5: agent 'dev': tool 'team_tools:"
                       r"missing': module 'team_tools' has no attribute 'missing'"):
        load_team(path, root=tmp_path)


def test_untrusted_files_refuse_import_paths(tmp_path: Path) -> None:
    exc = error(tmp_path, '[grep, "team_tools:shout"]', trusted=False)
    assert exc.line == 4
    assert ("tool 'team_tools:shout' imports and runs Python code, refused in an untrusted team "
            "file") in str(exc)
    assert [t.name for t in load_team(team(tmp_path, "[grep]"), root=tmp_path,
                                      trusted=False).tools] == ["grep"]


def test_an_import_path_tool_is_imported_once_per_file(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(textwrap.dedent("""\
        agents:
          - {name: dev, tools: ["team_tools:shout"], subagents: [helper]}
          - {name: helper, tools: ["team_tools:shout", grep]}
        """), encoding="utf-8")
    dev = load_team(path, root=tmp_path)
    helper = dev.subagents[0]
    assert not isinstance(helper, str)
    assert dev.tools[0] is helper.tools[0]
