"""Tests for the built-in read-only filesystem tools (subagents.tools)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from subagents.errors import SpecError
from subagents.nodes.plan import NUDGE_KEY
from subagents.tools import (
    BUILTIN_CHECKS,
    BUILTIN_TOOLS,
    builtin_check,
    builtin_tool,
    filesystem_tools,
    paths_exist,
)
from subagents.tools import fs as fs_module

SECRET = "7f3a9c-TOP-SECRET-e21b"


def build_repo(base: Path) -> tuple[Path, Path]:
    """Create ``base/repo`` (the root) and ``base/outside/secret.txt`` (the sentinel)."""
    outside = base / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(f"{SECRET}\nsecret line two\n")
    root = base / "repo"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "src" / "pkg" / "spec.py").write_text(
        "import yaml\n\n\ndef load_spec(path):\n    return yaml.safe_load(path)\n"
    )
    (root / "src" / "app.py").write_text("from pkg.spec import load_spec\n\nAPP = 'Hello'\n")
    (root / "README.md").write_text("# Demo\nHello world\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("Use load_spec to read a team file.\n")
    (root / "empty").mkdir()
    (root / "data.bin").write_bytes(b"\x89PNG\x00\x01\x02hello\x00" * 10)
    for junk in (".git", "__pycache__", "node_modules", ".venv", ".hidden"):
        (root / junk).mkdir()
        (root / junk / "junk.py").write_text("hello from junk\n")
    (root / ".env").write_text("hello hidden\n")
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "secret_link").symlink_to(secret)
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    (root / "inner_link").symlink_to(root / "src", target_is_directory=True)
    return root, secret


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_repo(tmp_path)[0]


@pytest.fixture
def tools(repo: Path) -> dict[str, BaseTool]:
    return {t.name: t for t in filesystem_tools(repo)}


def call(tools: dict[str, BaseTool], name: str, **kwargs: Any) -> str:
    result = tools[name].invoke(kwargs)
    assert isinstance(result, str)
    return result


# ------------------------------------------------------------------------------ registry


def test_filesystem_tools_are_structured_with_sync_and_async(repo: Path) -> None:
    built = filesystem_tools(str(repo))
    assert [t.name for t in built] == ["list_files", "read_file", "grep"]
    for tool in built:
        assert isinstance(tool, StructuredTool)
        assert tool.func is not None
        assert tool.coroutine is not None
        assert tool.description


def test_builtin_registry(repo: Path) -> None:
    assert set(BUILTIN_TOOLS) == {"list_files", "read_file", "grep", "find"}
    for name, factory in BUILTIN_TOOLS.items():
        assert factory(repo).name == name
        assert builtin_tool(name, repo).name == name


def test_builtin_tool_unknown_name_lists_valid_names(repo: Path) -> None:
    with pytest.raises(SpecError) as info:
        builtin_tool("serch", repo)
    message = str(info.value)
    assert "serch" in message
    assert "grep, list_files, read_file" in message
    assert isinstance(info.value, ValueError)


def test_missing_root_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not an existing directory"):
        filesystem_tools(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SpecError):
        builtin_tool("grep", tmp_path / "file.txt")


# ---------------------------------------------------------------------------- list_files


def test_list_files_top_level(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "list_files")
    assert out.splitlines() == [
        "README.md",
        "data.bin",
        "docs/",
        "empty/",
        "inner_link/",
        "src/",
    ]


def test_list_files_recursive_glob(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "list_files", pattern="**/*.py")
    lines = out.splitlines()
    assert "src/app.py" in lines
    assert "src/pkg/spec.py" in lines
    assert lines == sorted(lines)
    assert not any("junk" in line for line in lines)


def test_list_files_subfolder_and_file(tools: dict[str, BaseTool], repo: Path) -> None:
    assert call(tools, "list_files", path="src").splitlines() == ["src/app.py", "src/pkg/"]
    assert call(tools, "list_files", path=str(repo / "src")).startswith("src/app.py")
    assert call(tools, "list_files", path="src/app.py").startswith("src/app.py (file,")
    assert call(tools, "list_files", path="src", pattern="pkg/*.py").splitlines() == [
        "src/pkg/__init__.py",
        "src/pkg/spec.py",
    ]


def test_list_files_pattern_falls_back_to_subfolders(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "list_files", pattern="*.PY")
    assert out.splitlines()[0].startswith("Nothing matches '*.PY' directly here")
    assert "src/pkg/spec.py" in out


def test_list_files_empty_and_no_match(tools: dict[str, BaseTool]) -> None:
    assert "empty folder" in call(tools, "list_files", path="empty")
    assert call(tools, "list_files", pattern="*.rs").startswith("No files matching '*.rs'")


def test_list_files_bad_input(tools: dict[str, BaseTool]) -> None:
    assert call(tools, "list_files", pattern="../*").startswith("Error: pattern must not")
    assert call(tools, "list_files", path="..").startswith("Error: path '..' is outside")
    missing = call(tools, "list_files", path="scr")
    assert missing.startswith("Error: no such file 'scr'")


def test_list_files_cap(tmp_path: Path) -> None:
    for i in range(250):
        (tmp_path / f"f{i:03}.txt").write_text("x")
    out = call({t.name: t for t in filesystem_tools(tmp_path)}, "list_files")
    lines = out.splitlines()
    assert len(lines) == 201
    assert lines[0] == "f000.txt"
    assert lines[-1].startswith("... 50 more entries not shown")


# ----------------------------------------------------------------------------- read_file


def test_read_file_numbered(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "read_file", path="src/pkg/spec.py")
    assert out.splitlines() == [
        "src/pkg/spec.py, lines 1-5 of 5:",
        "1: import yaml",
        "2: ",
        "3: ",
        "4: def load_spec(path):",
        "5:     return yaml.safe_load(path)",
    ]


def test_read_file_range_and_forgiving_arguments(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "read_file", path="src/pkg/spec.py", start_line=4, end_line=5)
    assert out.splitlines()[1:] == ["4: def load_spec(path):", "5:     return yaml.safe_load(path)"]
    swapped = call(tools, "read_file", path="src/pkg/spec.py", start_line=5, end_line=4)
    assert swapped == out
    assert call(tools, "read_file", path="src/app.py", start_line=-3).startswith(
        "src/app.py, lines 1-3 of 3:"
    )
    assert call(tools, "read_file", path=" 'src/app.py' ").startswith("src/app.py, lines")
    as_text = tools["read_file"].invoke({"path": "src/app.py", "start_line": "3"})
    assert as_text.splitlines()[1] == "3: APP = 'Hello'"
    past = call(tools, "read_file", path="src/app.py", start_line=10)
    assert past == "Error: 'src/app.py' has only 3 lines; start_line 10 is past the end"


def test_read_file_line_cap(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 501)))
    tools = {t.name: t for t in filesystem_tools(tmp_path)}
    lines = call(tools, "read_file", path="big.txt").splitlines()
    assert lines[0] == "big.txt, lines 1-200 of 500:"
    assert lines[-2] == "200: line 200"
    assert "start_line=201" in lines[-1]
    more = call(tools, "read_file", path="big.txt", start_line=201).splitlines()
    assert more[1] == "201: line 201"


def test_read_file_char_cap_and_long_lines(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_text(("x" * 300 + "\n") * 100)
    (tmp_path / "one.txt").write_text("y" * 100_000 + "\nsecond\n")
    tools = {t.name: t for t in filesystem_tools(tmp_path)}
    wide = call(tools, "read_file", path="wide.txt")
    assert len(wide) <= 8_000 + 200
    assert "start_line=" in wide.splitlines()[-1]
    one = call(tools, "read_file", path="one.txt").splitlines()
    assert one[1].endswith("...[line truncated]")
    assert len(one[1]) < 600
    assert one[2] == "2: second"


def test_read_file_binary_and_empty(tools: dict[str, BaseTool], repo: Path) -> None:
    assert (
        call(tools, "read_file", path="data.bin") == "data.bin: binary file, 130 bytes (not shown)"
    )
    (repo / "blank.txt").write_text("")
    assert call(tools, "read_file", path="blank.txt") == "blank.txt is empty."


def test_read_file_huge_file_reads_requested_range(tmp_path: Path) -> None:
    with (tmp_path / "huge.log").open("w") as fh:
        for i in range(1, 300_001):
            fh.write(f"entry {i:07}\n")
    assert (tmp_path / "huge.log").stat().st_size > 2_000_000
    tools = {t.name: t for t in filesystem_tools(tmp_path)}
    out = call(tools, "read_file", path="huge.log", start_line=10, end_line=12).splitlines()
    assert out == [
        "huge.log, lines 10-12:",
        "10: entry 0000010",
        "11: entry 0000011",
        "12: entry 0000012",
    ]


def test_read_file_folder_missing_and_absolute(tools: dict[str, BaseTool], repo: Path) -> None:
    assert call(tools, "read_file", path="src").startswith("Error: 'src' is a folder")
    missing = call(tools, "read_file", path="src/pkg/sepc.py")
    assert missing.startswith("Error: no such file 'src/pkg/sepc.py'; close matches: ")
    assert "src/pkg/spec.py" in missing
    by_name = call(tools, "read_file", path="spec.py")
    assert by_name.startswith("Error: no such file 'spec.py'; close matches: src/pkg/spec.py")
    nothing = call(tools, "read_file", path="zzzzzzzz.qqq")
    assert (
        nothing == "Error: no such file 'zzzzzzzz.qqq'; find the right path with grep or list_files"
    )
    inside = call(tools, "read_file", path=str(repo / "src" / "app.py"))
    assert inside.startswith("src/app.py, lines 1-3 of 3:")
    hint = call(tools, "read_file", path="/src/app.py")
    assert hint.startswith("Error: path '/src/app.py' is outside the root")
    assert "try 'src/app.py'" in hint


def test_read_file_symlink_inside_root_is_allowed(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "read_file", path="inner_link/app.py")
    assert out.startswith("src/app.py, lines 1-3 of 3:")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_read_file_fifo_does_not_hang(tools: dict[str, BaseTool], repo: Path) -> None:
    os.mkfifo(repo / "pipe")
    assert call(tools, "read_file", path="pipe") == "Error: 'pipe' is not a regular file"
    assert "No matches" in call(tools, "grep", pattern="zzzz-nothing")


# ---------------------------------------------------------------------------------- grep


def test_grep_literal_case_insensitive(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern="HELLO")
    assert out.splitlines() == [
        "2 matches in 2 files:",
        "README.md:2: Hello world",
        "src/app.py:3: APP = 'Hello'",
    ]


def test_grep_regex_characters_are_literal_first(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern="load_spec(path)")
    assert out.splitlines() == [
        "1 match in 1 file:",
        "src/pkg/spec.py:4: def load_spec(path):",
    ]


def test_grep_regex_fallback(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern=r"def \w+_spec")
    lines = out.splitlines()
    assert lines[0] == r"No literal matches for 'def \\w+_spec'; matched it as a regex"
    assert lines[2] == "src/pkg/spec.py:4: def load_spec(path):"


def test_grep_nested_quantifier_is_not_run_as_regex(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a" * 900 + "!\n")
    tools = {t.name: t for t in filesystem_tools(tmp_path)}
    started = time.monotonic()
    out = call(tools, "grep", pattern="(a+)+$")
    assert time.monotonic() - started < 5
    assert "as a regex" not in out


def test_grep_identifier_fallback(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern="load_spec(team_file, strict=True)")
    lines = out.splitlines()
    assert lines[0] == (
        "No matches for 'load_spec(team_file, strict=True)'; "
        "showing matches for its longest identifier 'load_spec'"
    )
    assert (
        lines[1]
        == "'load_spec' is defined in src/pkg/spec.py:4; the other rows are uses "
        "(3 matches in 3 files):"
    )
    assert lines[2].startswith("src/pkg/spec.py:")
    assert "docs/guide.md:1: Use load_spec to read a team file." in lines
    assert "src/app.py:1: from pkg.spec import load_spec" in lines


def test_grep_word_fallback(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern="Demo zebra-xylophone")
    lines = out.splitlines()
    assert lines[0].startswith("No matches for 'Demo zebra-xylophone'; showing lines containing")
    assert "Demo" in lines[0]
    assert "README.md:1: # Demo" in lines


def test_grep_no_match_and_bad_input(tools: dict[str, BaseTool]) -> None:
    assert call(tools, "grep", pattern="qqqq") == "No matches for 'qqqq' in '.' (searched 6 files)."
    assert call(tools, "grep", pattern="   ").startswith("Error: pattern is empty")
    assert call(tools, "grep", pattern="a\x00b").startswith("Error: pattern must be")
    assert call(tools, "grep", pattern="x", path="../outside").startswith("Error: path")
    missing = call(tools, "grep", pattern="x", path="nope")
    assert missing.startswith("(that path does not exist; searched all files instead)")
    assert "nope" not in missing  # a small model copies an echoed invented path into its answer


def test_grep_splits_identifiers_in_its_last_fallback(tmp_path: Path) -> None:
    (tmp_path / "limits.py").write_text("UPLOAD_LIMIT_MB = 37\n")
    from subagents.tools.fs import grep

    out = grep(tmp_path, "max_upload_size")
    assert "limits.py:1: UPLOAD_LIMIT_MB = 37" in out


def test_grep_skips_binary_hidden_and_junk(tools: dict[str, BaseTool]) -> None:
    out = call(tools, "grep", pattern="hello")
    assert "junk" not in out
    assert ".env" not in out
    assert "data.bin" not in out


def test_grep_path_restricts_search(tools: dict[str, BaseTool]) -> None:
    assert call(tools, "grep", pattern="load_spec", path="docs").splitlines() == [
        "1 match in 1 file:",
        "docs/guide.md:1: Use load_spec to read a team file.",
    ]
    single = call(tools, "grep", pattern="yaml", path="src/pkg/spec.py")
    assert single.splitlines()[0] == "2 matches in 1 file:"


def test_grep_caps(tmp_path: Path) -> None:
    (tmp_path / "many.txt").write_text("needle\n" * 100)
    (tmp_path / "wide.txt").write_text(("needle " + "z" * 400 + "\n") * 25)
    tools = {t.name: t for t in filesystem_tools(tmp_path)}
    out = call(tools, "grep", pattern="needle", path="many.txt").splitlines()
    assert out[0] == "100 matches in 1 file:"
    assert len(out) == 32
    assert out[-1].startswith("... 70 more matches not shown")
    wide = call(tools, "grep", pattern="needle", path="wide.txt")
    assert len(wide) <= 8_000
    assert all(len(line) < 260 for line in wide.splitlines())


# ---------------------------------------------------------------------------- traversal


def bad_paths(repo: Path, secret: Path) -> list[str]:
    return [
        "..",
        "../outside/secret.txt",
        "src/../../outside/secret.txt",
        "./src/pkg/../../../outside/secret.txt",
        str(secret),
        str(secret.parent),
        "/etc/passwd",
        "/etc",
        "etc/passwd",
        "etc",
        "link_out",
        "link_out/secret.txt",
        "secret_link",
        "src\x00/app.py",
        "../" * 50 + "etc/passwd",
        "a" * 10_000,
        "/" + "a/" * 3_000,
    ]


@pytest.mark.parametrize("tool_name", ["list_files", "read_file", "grep"])
def test_traversal_attempts_are_refused(tmp_path: Path, tool_name: str) -> None:
    repo, secret = build_repo(tmp_path)
    tools = {t.name: t for t in filesystem_tools(repo)}
    for path in bad_paths(repo, secret):
        args: dict[str, Any] = {"path": path}
        if tool_name == "grep":
            args["pattern"] = "e"
        out = tools[tool_name].invoke(args)
        assert out.startswith("Error: "), (path[:50], out)
        assert SECRET not in out
        assert "root:" not in out  # /etc/passwd content
        assert len(out) < 400


def test_traversal_error_messages(tools: dict[str, BaseTool]) -> None:
    assert call(tools, "read_file", path="../x") == "Error: path '../x' is outside the root"
    nul = call(tools, "read_file", path="a\x00b")
    assert nul == "Error: path 'a\\x00b' contains a NUL byte"
    long = call(tools, "read_file", path="a" * 10_000)
    assert "too long" in long
    assert "10000 chars" in long


def test_symlinks_out_of_root_are_not_listed_or_searched(tools: dict[str, BaseTool]) -> None:
    listing = call(tools, "list_files", pattern="**/*")
    assert "link_out" not in listing
    assert "secret_link" not in listing
    assert "etc" not in listing.split()
    assert "inner_link/" in listing
    assert "No matches" in call(tools, "grep", pattern=SECRET[:10])


def test_check_happens_before_any_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo, secret = build_repo(tmp_path)
    opened: list[str] = []
    real_open = os.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    tools = {t.name: t for t in filesystem_tools(repo)}
    for path in ("secret_link", "link_out/secret.txt", str(secret)):
        assert call(tools, "read_file", path=path).startswith("Error:")
    assert not any("outside" in p for p in opened)


# ----------------------------------------------------------------------------- property

PIECES = st.sampled_from(
    [
        "..",
        ".",
        "",
        "/",
        "//",
        "/etc",
        "etc",
        "passwd",
        "~",
        "~root",
        "$HOME",
        "link_out",
        "secret_link",
        "inner_link",
        "outside",
        "secret.txt",
        "src",
        "app.py",
        "**",
        "*",
        "\x00",
        "\\",
        "ünïcødé",
        "日本語",
        "\u202e",
        "\ud800",
        "a" * 300,
        "b" * 5000,
        " ",
        "'",
        "\n",
    ]
)


@pytest.fixture(scope="module")
def property_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_repo(tmp_path_factory.mktemp("prop"))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(PIECES | st.text(max_size=12), max_size=8),
    absolute=st.sampled_from(["", "/", "root", "outside"]),
    pattern=st.sampled_from(["*", "**/*", "../*", "**/../*", "secret", "TOP"])
    | st.text(max_size=10),
    line=st.integers(min_value=-5, max_value=10**9),
)
def test_no_path_ever_leaks_outside_content(
    property_repo: tuple[Path, Path], pieces: list[str], absolute: str, pattern: str, line: int
) -> None:
    repo, secret = property_repo
    prefix = {"": "", "/": "/", "root": f"{repo}/", "outside": f"{secret.parent}/"}[absolute]
    path = prefix + "/".join(pieces)
    tools = {t.name: t for t in filesystem_tools(repo)}
    outputs = [
        tools["read_file"].invoke({"path": path, "start_line": line}),
        tools["list_files"].invoke({"path": path, "pattern": pattern}),
        tools["grep"].invoke({"pattern": pattern or "e", "path": path}),
        tools["grep"].invoke({"pattern": "secret", "path": path}),
    ]
    for out in outputs:
        assert isinstance(out, str)
        assert SECRET not in out
        assert "secret line two" not in out
        assert "root:x:" not in out


# -------------------------------------------------------------------------------- async


async def test_async_variants(tools: dict[str, BaseTool]) -> None:
    listing = await tools["list_files"].ainvoke({"path": "src"})
    assert listing.splitlines() == ["src/app.py", "src/pkg/"]
    text = await tools["read_file"].ainvoke({"path": "src/app.py", "end_line": 1})
    assert text.splitlines() == ["src/app.py, lines 1-1 of 3:", "1: from pkg.spec import load_spec"]
    found = await tools["grep"].ainvoke({"pattern": "APP ="})
    assert found.splitlines()[1] == "src/app.py:3: APP = 'Hello'"
    refused = await tools["read_file"].ainvoke({"path": "../outside/secret.txt"})
    assert refused.startswith("Error: path")


async def test_async_does_not_block_event_loop(monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    loop = asyncio.get_running_loop()
    entered: asyncio.Queue[str] = asyncio.Queue()
    release = threading.Event()

    def slow(*args: Any) -> str:
        loop.call_soon_threadsafe(entered.put_nowait, "in")
        # released by the event loop once all three reads are in here at the same time: run on
        # the loop (or one after the other), this read would wait in vain
        return "slow" if release.wait(timeout=10) else "blocked"

    monkeypatch.setattr(fs_module, "read_file", slow)
    tool = builtin_tool("read_file", repo)

    async def release_when_all_are_in() -> str:
        for _ in range(3):
            await asyncio.wait_for(entered.get(), timeout=10)
        release.set()  # the loop ran while three reads were blocked in their threads
        return "released"

    results = await asyncio.gather(
        tool.ainvoke({"path": "a"}),
        tool.ainvoke({"path": "b"}),
        tool.ainvoke({"path": "c"}),
        release_when_all_are_in(),
    )
    assert results == ["slow", "slow", "slow", "released"]


def test_tools_never_raise_on_internal_errors(monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    def boom(*args: Any) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fs_module, "grep", boom)
    out = builtin_tool("grep", repo).invoke({"pattern": "x"})
    assert out == "Error: RuntimeError: disk on fire"


def test_grep_lists_the_definition_first(tmp_path: Path) -> None:
    (tmp_path / "a_use.py").write_text("from b_def import Widget\nw = Widget()\n")
    (tmp_path / "b_def.py").write_text("import os\n\n\nclass Widget:\n    pass\n")
    (tmp_path / "c_const.py").write_text("LIMIT_MAX: int = 3\nx = LIMIT_MAX == 3\n")
    from subagents.tools.fs import grep

    lines = grep(tmp_path, "Widget").splitlines()
    assert lines[0] == ("'Widget' is defined in b_def.py:4; the other rows are uses "
                        "(3 matches in 2 files):")
    assert lines[1:] == [
        "b_def.py:4: class Widget:",
        "a_use.py:1: from b_def import Widget",
        "a_use.py:2: w = Widget()",
    ]
    consts = grep(tmp_path, "LIMIT_MAX").splitlines()
    assert consts[0].startswith("'LIMIT_MAX' is defined in c_const.py:1;")
    assert consts[1] == "c_const.py:1: LIMIT_MAX: int = 3"
    plain = grep(tmp_path, "import").splitlines()
    assert plain[0] == "2 matches in 2 files:"  # nothing defines 'import': order unchanged


def test_read_file_missing_path_named_after_a_definition(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shapes.py").write_text("class Widget:\n    pass\n")
    from subagents.tools.fs import read_file

    out = read_file(tmp_path, "src/main/java/Widget.java")
    assert out == (
        "Error: no such file 'src/main/java/Widget.java'; "
        "'Widget' is defined in pkg/shapes.py:1: class Widget:"
    )
    loose = read_file(tmp_path, "src/app.py")  # no loose guesses a model would take as the answer
    assert loose == "Error: no such file 'src/app.py'; find the right path with grep or list_files"


# ------------------------------------------------------------------------- paths_exist


def grep_result(text: str, name: str = "grep", status: str = "success") -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=f"id_{name}_{len(text)}", name=name,
                       status=status)


TASK = HumanMessage("Which file defines load_spec?")


def test_paths_exist_accepts_existing_and_seen_paths(repo: Path) -> None:
    check = paths_exist(repo)
    assert check("No path here, only prose.", [TASK]) is None
    answer = "See src/app.py, ./src/pkg/spec.py:4, docs/guide.md and README.md."
    assert check(answer, [TASK]) is None
    seen = [TASK, grep_result("1 match in 1 file:\nlib/other.py:3: def load_spec():")]
    # seen in a tool output (whole or its last parts), though not under the root
    assert check("It is lib/other.py, line 3 of other.py.", seen) is None
    # named by the task (a human message the runtime did not write)
    asked = [HumanMessage("Does src/ghost.py exist?")]
    assert check("src/ghost.py does not exist.", asked) is None


def test_paths_exist_rejects_invented_paths_and_suggests_seen_ones(repo: Path) -> None:
    check = paths_exist(repo)
    history = [
        TASK,
        grep_result("2 matches in 2 files:\ndocs/guide.md:1: Use load_spec to read a team "
                    "file.\nsrc/pkg/spec.py:4: def load_spec(path):"),
        grep_result("Error: no such file 'src/main.py'; find the right path with grep or "
                    "list_files", name="read_file"),
    ]
    complaint = check("load_spec is defined in src/main.py:4.", history)
    assert complaint == (
        "`src/main.py` does not exist under the root (read_file said so). Answer only with "
        "paths that appear in the tool results above, e.g. src/pkg/spec.py, docs/guide.md.")
    # 'src/' is not stripped: a path resolves against the root or not at all
    assert "`pkg/spec.py` does not exist" in (check("in pkg/spec.py", [TASK]) or "")
    # an error output does not make a path seen; a nudge naming it is no task
    nudge = HumanMessage("`src/main.py` does not exist",
                         additional_kwargs={NUDGE_KEY: True})
    assert check("src/main.py", [TASK, history[2], nudge]) is not None
    assert check("src/main.py", [TASK, grep_result("src/main.py:1: x", status="error")])
    # nothing seen: the task's code names are looked up under the root
    assert check("It is in lib/nowhere.py", [TASK]) == (
        "`lib/nowhere.py` does not exist under the root. `load_spec` is defined in "
        "src/pkg/spec.py:4. Answer only with paths that appear in the tool results above or "
        "in this note, e.g. src/pkg/spec.py.")
    alone = check("It is in lib/nowhere.py", [HumanMessage("Where is the timeout set?")])
    assert alone == ("`lib/nowhere.py` does not exist under the root. Answer only with paths "
                     "that appear in the tool results above; find the right path with grep "
                     "or list_files first.")


def test_paths_exist_never_escapes_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    root, secret = build_repo(tmp_path)
    (secret.parent / "secret.py").write_text("x = 1\n")
    check = paths_exist(root)
    looked: list[str] = []
    real_exists, real_open = os.path.exists, os.open

    def exists(path: Any) -> bool:
        looked.append(os.fspath(path))
        return real_exists(path)

    def confined_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        looked.append(os.fspath(path))  # the definition lookup of the task's code names
        return real_open(path, *args, **kwargs)

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("paths_exist opened a file without the confinement")

    monkeypatch.setattr(os.path, "exists", exists)
    monkeypatch.setattr(os, "open", confined_open)
    monkeypatch.setattr("builtins.open", no_open)
    for path in ("../outside/secret.py", str(secret.parent / "secret.py"),
                 "link_out/secret.py", "etc/hosts.json", "src/../../outside/secret.py"):
        complaint = check(f"It is in {path}.", [TASK])
        assert complaint is not None and f"`{path}` is outside the root" in complaint, path
    assert check(f"It is in {root / 'src' / 'app.py'} or inner_link/app.py", [TASK]) is None
    real = os.path.realpath(root)
    assert looked and all(p.startswith(real + os.sep) for p in looked)
    assert any(p.endswith("spec.py") for p in looked)  # load_spec was looked up


def test_paths_exist_registry_and_bad_roots(tmp_path: Path, repo: Path) -> None:
    assert set(BUILTIN_CHECKS) == {"grounded", "paths_exist"}
    assert builtin_check("paths_exist", repo)("src/app.py", []) is None
    with pytest.raises(SpecError, match="valid names: grounded, paths_exist"):
        builtin_check("path_exists", repo)
    with pytest.raises(SpecError, match="not an existing directory"):
        paths_exist(tmp_path / "missing")
