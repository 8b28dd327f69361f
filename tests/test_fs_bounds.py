"""The filesystem tools never hang and never lie: fuzz and fault tests with per-case limits.

Every case that could hang runs in a child process (``_sandbox.Sandbox``) with a deadline and
an address-space limit, so a regression fails that case instead of freezing the suite (a
backtracking regex holds the GIL; no thread can interrupt it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage, ToolMessage

from _sandbox import CaseCrashed, CaseTimeout, Sandbox
from subagents.tools import _grep, filesystem_tools, paths_exist
from subagents.tools._check import _PATH, find_paths
from subagents.tools._grep import UNSUPPORTED
from subagents.tools._listing import glob_match
from subagents.tools.fs import grep, list_files, read_file

FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

PATHOLOGICAL = [r"(=|==)+x", r"((a+))+b", r"(a?){25}a{25}b", r"a*a*a*b", r"(a+)+$",
                r"(a|aa)*c", r"(\w+\s?)+$", r"(.*a){20}", r"(a|a?)+b", r"([a=]+)*!x"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lines that make backtracking engines explode (runs of one character, no match)."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "runs.txt").write_text("a" * 999 + "\n" + "=" * 999 + "\n" + "a " * 400 + "!\n")
    (root / "mixed.py").write_text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\n" * 50)
    return root


def fs(name: str) -> tuple[str, str]:
    return "subagents.tools.fs", name


# ------------------------------------------------------------------------------ the sandbox


def test_sandbox_fails_a_hanging_case_and_recovers() -> None:
    box = Sandbox(deadline=3)
    try:
        with pytest.raises(CaseTimeout):  # CPython's re on this runs for ages
            box.run("re", "search", r"(a+)+$", "a" * 60 + "!")
        with pytest.raises(CaseCrashed, match="MemoryError"):
            box.run("builtins", "bytearray", 8 << 30)
        assert box.run("builtins", "len", "abc") == 3
    finally:
        box.close()


# ------------------------------------------------------------------------------------ grep


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
def test_grep_pathological_regexes_finish(sandbox: Sandbox, hostile: Path, pattern: str) -> None:
    out = sandbox.run(*fs("grep"), str(hostile), pattern)
    assert out.startswith(("No ", "(")) or " match" in out.splitlines()[0], out


def test_grep_runs_pathological_shapes_as_regexes(tmp_path: Path) -> None:
    (tmp_path / "ops.txt").write_text("if a ===x then\nplain\n")
    out = grep(tmp_path, r"(=|==)+x").splitlines()
    assert out[0] == r"No literal matches for '(=|==)+x'; matched it as a regex"
    assert out[1:] == ["1 match in 1 file:", "ops.txt:1: if a ===x then"]


def test_grep_lookaround_and_backreferences_are_searched_as_text(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def load_spec(path):\n    return path\n")
    out = grep(tmp_path, r"(?<=def )load_spec").splitlines()
    assert out[0] == UNSUPPORTED
    assert out[1] == (r"No matches for '(?<=def )load_spec'; "
                      "showing matches for its longest identifier 'load_spec'")
    none = grep(tmp_path, r"(zq)\1")
    assert none == UNSUPPORTED + "\nNo matches for '(zq)\\\\1' in '.' (searched 1 files)."
    invalid = grep(tmp_path, "load_spec(x").splitlines()  # no regex at all: no note
    assert invalid[0].startswith("No matches for 'load_spec(x'; showing matches for its")


REGEX_ATOMS = st.sampled_from(["a", "=", "==", ".", r"\w", "[a=]", "b", "x", "(a|aa)", r"\s",
                               "a?", "^", "$", "!"])


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    quant = st.sampled_from(["*", "+", "?", "{2,}", "{0,25}", "*?", "{25}"])
    return st.one_of(
        st.tuples(inner, quant).map("".join),
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
        inner.map(lambda s: f"({s})"),
    )


REGEXES = st.recursive(REGEX_ATOMS, _grow, max_leaves=14)


@FUZZ
@given(pattern=REGEXES)
def test_grep_fuzz_regexes_finish(sandbox: Sandbox, hostile: Path, pattern: str) -> None:
    out = sandbox.run(*fs("grep"), str(hostile), pattern)
    assert isinstance(out, str) and out


# ---------------------------------------------------------------------------------- globs


def naive_glob(parts: list[str], pats: list[str]) -> bool:
    """The old exponential recursion: the reference for small inputs."""
    import fnmatch

    if not pats:
        return not parts
    if pats[0] == "**":
        return naive_glob(parts, pats[1:]) or (bool(parts) and naive_glob(parts[1:], pats))
    return (bool(parts) and fnmatch.fnmatchcase(parts[0].casefold(), pats[0].casefold())
            and naive_glob(parts[1:], pats[1:]))


SEGMENTS = st.sampled_from(["**", "a", "*", "a*", "*a*", "?", "b.py", "*.py", "A", "[ab]"])


@settings(max_examples=300, deadline=None, database=None)
@given(parts=st.lists(st.sampled_from(["a", "b.py", "ab", "A", "c"]), max_size=6),
       pats=st.lists(SEGMENTS, min_size=1, max_size=6))
def test_glob_match_agrees_with_the_reference(parts: list[str], pats: list[str]) -> None:
    assert glob_match(parts, pats) == naive_glob(parts, pats)


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deep")
    folder = root
    for depth in range(40):
        folder = folder / "a"
        folder.mkdir()
        (folder / f"f{depth}.txt").write_text("x\n")
    (folder / "b.py").write_text("x\n")
    return root


@pytest.mark.parametrize("pattern", ["**/a/**/a/**/a/**/a/**/a/**/a/**/zz",
                                     "/".join(["**", "a*"] * 12) + "/q", "**/*a*/**/?/**/x"])
def test_list_files_many_globstars_on_a_deep_tree(sandbox: Sandbox, deep: Path,
                                                  pattern: str) -> None:
    out = sandbox.run(*fs("list_files"), str(deep), ".", pattern)
    assert out.startswith("No files matching"), out


def test_list_files_deep_match_is_found(deep: Path) -> None:
    out = list_files(deep, ".", "**/a/**/a/**/b.py")
    assert out == "/".join(["a"] * 40) + "/b.py"


@FUZZ
@given(pats=st.lists(SEGMENTS, min_size=1, max_size=20))
def test_list_files_fuzz_globs_finish(sandbox: Sandbox, deep: Path, pats: list[str]) -> None:
    out = sandbox.run(*fs("list_files"), str(deep), ".", "/".join(pats))
    assert isinstance(out, str) and out


# ------------------------------------------------------------------------------- read_file


def test_read_file_far_start_line_in_a_6_gb_file(sandbox: Sandbox, tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    with big.open("wb") as fh:
        fh.write(b"".join(b"line %d\n" % i for i in range(2000)))
        fh.truncate(6 << 30)  # sparse: the rest reads as NUL bytes, no newline in 6 GB
    out = sandbox.run(*fs("read_file"), str(tmp_path), "big.log", 10**9)
    assert out.startswith("Error: start_line 1000000000 of 'big.log' is beyond what "
                          "read_file scans (the first 1000000 lines / 32 MB of this "
                          f"{6 << 30}-byte file)"), out
    head = sandbox.run(*fs("read_file"), str(tmp_path), "big.log", 5, 6)
    assert head.splitlines() == ["big.log, lines 5-6:", "5: line 4", "6: line 5"]


HOSTILE_PYTHON = {
    "chain.py": "x = " + "1+" * 200_000 + "1\n",             # recursion in the AST walk
    "attrs.py": "x = a" + ".b" * 200_000 + "\n",
    "parens.py": "x = " + "(" * 5_000 + ")" * 5_000 + "\n",    # the parser refuses it
    "wide.py": "".join(f"C{i} = {i}\n" for i in range(50_000)),  # many definitions
    "long.py": "S = '" + "a" * 1_900_000 + "'\n",               # one long line
    "binary.py": "x = 1\x00\n",
}


@pytest.mark.parametrize("query", ["C4242", "which constant holds a", "x" * 999, "S"])
def test_find_on_hostile_python_finishes(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory,
                                         query: str) -> None:
    root = tmp_path_factory.mktemp("hostile_py")
    for name, text in HOSTILE_PYTHON.items():
        (root / name).write_text(text)
    out = sandbox.run("subagents.tools.find", "find", str(root), query)
    first = out.splitlines()[0]
    assert first.startswith(("No Python definition", "Error:")) or " matching " in first, out


def test_read_file_line_scan_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_bytes(b"x\n" * 1_000_100)
    out = read_file(tmp_path, "short.txt", 1_000_050)
    assert out.startswith("Error: start_line 1000050 of 'short.txt' is beyond what read_file")
    near = read_file(tmp_path, "short.txt", 999_999, 1_000_000).splitlines()
    assert near == ["short.txt, lines 999999-1000000:", " 999999: x", "1000000: x"]


# ----------------------------------------------------------------------------- paths_exist


PATH_TEXT = st.text(alphabet="ab_./- \npyjsmd", max_size=60)


@settings(max_examples=500, deadline=None, database=None)
@given(text=PATH_TEXT)
def test_find_paths_agrees_with_the_path_regex(text: str) -> None:
    assert find_paths(text) == _PATH.findall(text)


@pytest.mark.parametrize("unit", ["a", "a/", "a.", "a.p", "a_b.py.", "x-", "é."])
def test_paths_exist_long_answers_finish(sandbox: Sandbox, tmp_path: Path, unit: str) -> None:
    answer = unit * (40_000 // len(unit)) + " src/app.py"
    out = sandbox.run("_fs_cases", "check_answer", str(tmp_path), answer)
    assert out is not None and "`src/app.py` does not exist under the root" in out


@pytest.mark.parametrize("output", ["a/" * 20_000 + "x.py", "a.py " * 8_000, "Widget_x " * 5_000])
def test_paths_exist_long_tool_outputs_finish(sandbox: Sandbox, tmp_path: Path,
                                              output: str) -> None:
    answer = "x.py or " + "b/" * 10_000 + "x.py in src/app.py"
    out = sandbox.run("_fs_cases", "check_with_output", str(tmp_path), answer, output)
    assert out is not None and "`src/app.py` does not exist under the root" in out


# ---------------------------------------------------------------------------- the file cap


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    for i in range(60):
        (tmp_path / f"f{i:03}.txt").write_text("plain\n")
    (tmp_path / "zz_last.py").write_text("class NeedleThing:\n    pass\n")
    return tmp_path


def test_grep_says_the_walk_was_cut(wide: Path) -> None:
    cut = grep(wide, "NeedleThing", max_files=20)
    assert cut == ("No matches for 'NeedleThing' in '.' (searched 20 files; stopped at the "
                   "20-entry limit; the rest of the tree was not searched).")
    partial = grep(wide, "plain", max_files=20).splitlines()
    assert partial[0] == "20 matches in 20 files:"
    assert partial[-1] == ("(stopped at the 20-entry limit; the rest of the tree was not "
                           "searched; narrow the search with path=...)")
    assert grep(wide, "NeedleThing").startswith("'NeedleThing' is defined in zz_last.py:1")


def test_list_files_and_lookups_say_the_walk_was_cut(wide: Path) -> None:
    listing = list_files(wide, max_files=10).splitlines()
    assert len(listing) == 11
    assert listing[-1] == ("(listing incomplete: stopped at the 10-entry limit; the rest of "
                           "the tree was not searched; narrow with path=)")
    missing = read_file(wide, "zz_last.pyx", max_files=10)
    assert missing == ("Error: no such file 'zz_last.pyx'; find the right path with grep or "
                       "list_files (stopped at the 10-entry limit; the rest of the tree was "
                       "not searched)")
    assert "close matches: zz_last.py" in read_file(wide, "zz_last.pyx")


def test_filesystem_tools_pass_max_files(wide: Path) -> None:
    tools = {t.name: t for t in filesystem_tools(wide, max_files=20)}
    assert "20-entry limit" in tools["grep"].invoke({"pattern": "NeedleThing"})
    assert "20-entry limit" in tools["list_files"].invoke({})
    assert "20-entry limit" in tools["read_file"].invoke({"path": "nope.txt"})
    with pytest.raises(ValueError, match="max_files"):
        filesystem_tools(wide, max_files=0)


def test_paths_exist_says_the_lookup_was_cut(wide: Path) -> None:
    task = HumanMessage("Where is NeedleThing defined?")
    seen = ToolMessage("f000.txt", tool_call_id="1", name="list_files")
    cut = paths_exist(wide, max_files=10)("It is in src/needle.py", [task, seen])
    assert cut is not None
    assert ("Looking up `NeedleThing` stopped at the 10-entry limit; the rest of the tree "
            "was not searched.") in cut
    full = paths_exist(wide)("It is in src/needle.py", [task, seen])
    assert full is not None and "`NeedleThing` is defined in zz_last.py:1." in full



def test_grep_says_when_its_byte_budget_ran_out(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("plain text\n")  # 11 bytes each
    (tmp_path / "z.txt").write_text("needle\n")
    monkeypatch.setattr(_grep, "MAX_SEARCH_BYTES", 40)
    out = grep(tmp_path, "needle")
    assert out == ("No matches for 'needle' in '.' (searched 3 files; stopped after reading "
                   "0 MB; 3 files were not searched).")
    partial = grep(tmp_path, "plain").splitlines()
    assert partial[0] == "3 matches in 3 files:"
    assert partial[-1].startswith("(stopped after reading 0 MB; 3 files were not searched")
