"""``grep`` output for questions in words: all of a phrase's words, and what each row does.

Small models search a phrase from the question (``max redirects``) or the name of an
exception (``where is X raised``); the rows that answer such questions must come first.
"""

from __future__ import annotations

from pathlib import Path

from subagents.tools.fs import builtin_tool, grep, read_file


def test_a_phrase_finds_lines_holding_all_its_words_inside_names(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text("DEFAULT_MAX_REDIRECTS = 20\nmax_size = 5\n")
    (tmp_path / "client.py").write_text(
        "from config import DEFAULT_MAX_REDIRECTS\n# follows redirects\n")
    (tmp_path / "snap.py").write_text("MAX_SINCE_SNAPSHOT = 3\n")
    assert grep(tmp_path, "since snapshots").splitlines()[-1] == "snap.py:1: MAX_SINCE_SNAPSHOT = 3"
    lines = grep(tmp_path, "max redirects").splitlines()
    assert lines[0] == ("No matches for 'max redirects'; showing lines containing all of "
                        "its words: max, redirect")
    assert lines[1:] == ["2 matches in 2 files:",
                         "config.py:1: DEFAULT_MAX_REDIRECTS = 20",
                         "client.py:1: from config import DEFAULT_MAX_REDIRECTS"]


def test_a_phrase_lists_the_lines_that_define_something_first(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print(hide(secret_headers))\n")
    (tmp_path / "b.py").write_text("def hide_secret_headers(h):\n    return h\n")
    lines = grep(tmp_path, "secret headers").splitlines()
    assert lines[2:] == ["b.py:1: def hide_secret_headers(h):",
                         "a.py:1: print(hide(secret_headers))"]


def test_code_shaped_patterns_skip_the_all_words_search(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def load_spec(path):\n    return path\n")
    first = grep(tmp_path, "load_spec(path, strict)").splitlines()[0]
    assert first.endswith("showing matches for its longest identifier 'load_spec'")


def test_an_identifier_search_names_where_it_is_defined_and_raised(tmp_path: Path) -> None:
    (tmp_path / "errors.py").write_text("class TooMany(Exception):\n    pass\n")
    (tmp_path / "client.py").write_text(
        "from errors import TooMany\n\n\ndef go():\n    raise errors.TooMany('no')\n")
    (tmp_path / "api.py").write_text("def run():\n    raise TooMany\n")
    lines = grep(tmp_path, "TooMany").splitlines()
    assert lines[0] == ("'TooMany' is defined in errors.py:1; raised in api.py:2, client.py:5; "
                        "the other rows are uses (4 matches in 3 files):")
    assert lines[1:] == ["errors.py:1: class TooMany(Exception):", "api.py:2: raise TooMany",
                         "client.py:5: raise errors.TooMany('no')",
                         "client.py:1: from errors import TooMany"]


def test_an_identifier_only_raised_here_is_announced_without_a_definition(
        tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import x\nx.check(1)\nraise ValueError('bad')\n")
    lines = grep(tmp_path, "ValueError").splitlines()
    assert lines[0] == ("'ValueError' is raised in a.py:3; the other rows are uses "
                        "(1 match in 1 file):")


def test_read_file_tool_shows_the_definition_a_missing_path_is_named_after(
        tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    body = "".join(f"    field_{i}: int = {i}\n" for i in range(40))
    (tmp_path / "pkg" / "policy.py").write_text("import os\n\n\nclass Policy:\n" + body)
    tool = builtin_tool("read_file", tmp_path)
    lines = tool.invoke({"path": "src/main/Policy.java"}).splitlines()
    assert lines[0] == ("Error: no such file 'src/main/Policy.java'; 'Policy' is defined in "
                        "pkg/policy.py:4: class Policy:")
    assert lines[1].startswith("pkg/policy.py, lines 4-28 of 44")
    assert lines[2:4] == [" 4: class Policy:", " 5:     field_0: int = 0"]
    assert lines[-1].startswith("28:     field_23: int = 23")
    # the function keeps its default: where the name is defined, no file text
    assert read_file(tmp_path, "src/main/Policy.java") == lines[0]
