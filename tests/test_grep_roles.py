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
    assert lines[1:] == ["errors.py:1: class TooMany(Exception):",
                         "api.py:2: raise TooMany  (in def run)",
                         "client.py:5: raise errors.TooMany('no')  (in def go)",
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


def test_a_row_names_its_enclosing_class_and_function(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text(
        "LIMIT = 3\n\n\nclass Policy:\n    \"\"\"Keeps a value for one step.\"\"\"\n\n"
        "    tries: int = LIMIT\n\n    def wait(self, seconds: float = 0.5) -> None:\n"
        "        pass\n\n\ndef helper():\n    return LIMIT\n")
    rows = grep(tmp_path, "LIMIT").splitlines()[1:]
    assert rows == ["policy.py:1: LIMIT = 3", "policy.py:7: tries: int = LIMIT  (in class Policy)",
                    "policy.py:14: return LIMIT  (in def helper)"]
    assert grep(tmp_path, "seconds").splitlines()[1] == (
        "policy.py:9: def wait(self, seconds: float = 0.5) -> None:  (in class Policy)")
    assert grep(tmp_path, "one step").splitlines()[1] == (
        'policy.py:5: """Keeps a value for one step."""  (in class Policy)')


def test_a_row_shows_the_rest_of_an_assignment_split_over_lines(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text(
        'MAX_ITEMS = int(\n    getenv("MAX_ITEMS", "500")\n)\nOTHER = (\n' +
        "".join(f"    {i},\n" for i in range(50)) + ")\nif MAX_ITEMS > (\n    3):\n    pass\n")
    rows = grep(tmp_path, "MAX_ITEMS").splitlines()
    assert rows[1] == 'config.py:1: MAX_ITEMS = int(getenv("MAX_ITEMS", "500"))'
    assert rows[-1] == "config.py:56: if MAX_ITEMS > ("  # no assignment: the line alone
    other = grep(tmp_path, "OTHER").splitlines()[1]
    assert other == "config.py:4: OTHER = (0, 1, 2, 3,"  # at most four lines joined


def test_a_loose_search_shows_the_lines_holding_the_most_words_first(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "# retry\n# backoff\n# retry with backoff and jitter\n# retry with backoff\n")
    lines = grep(tmp_path, "retry_backoff_jitter").splitlines()
    assert lines[0].startswith("No matches for 'retry_backoff_jitter'; showing lines containing "
                               "the most of the words: ")
    assert [line.split(":")[1] for line in lines[2:]] == ["3", "4", "1", "2"]


def test_a_raise_in_a_comment_is_no_place_where_it_is_raised(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("# raise Stop here one day\nraise Stop('now')\n")
    assert grep(tmp_path, "Stop").splitlines()[0] == (
        "'Stop' is raised in a.py:2; the other rows are uses (2 matches in 1 file):")


def test_a_sentence_drops_its_english_words_and_ranks_the_lines_by_the_rest(
        tmp_path: Path) -> None:
    (tmp_path / "chan.py").write_text(
        "class Ephemeral:\n    \"\"\"Keeps the value of one step, clears it after.\"\"\"\n\n"
        "class Other:\n    \"\"\"Keeps values.\"\"\"\n")
    lines = grep(tmp_path, "which class keeps a value for one step and clears it").splitlines()
    assert lines[0].endswith("showing lines containing the most of the words: class, keep, "
                             "value, step, clear")
    assert lines[2] == ('chan.py:2: """Keeps the value of one step, clears it after."""  '
                        "(in class Ephemeral)")
