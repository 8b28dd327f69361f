"""The ``find`` tool: Python definitions ranked by a name or a question's words."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from subagents.errors import SpecError
from subagents.teams import load_team
from subagents.tools import _find, _symbols, builtin_tool, find_tool
from subagents.tools._symbols import parse, stem, terms
from subagents.tools.find import find

CONFIG = '''"""Settings."""

DEFAULT_TIMEOUT_SECONDS = 5.0
"""Seconds a request may take."""

DEFAULT_LIMITS = Limits(max_connections=100,
                        max_keepalive_connections=20)


class Limits:
    """Configuration for limits on the connection pool."""

    def __init__(self, max_connections: int = 10) -> None:
        self.max_connections = max_connections


class RetryPolicy(NamedTuple):
    """How nodes are retried."""

    max_attempts: int = 3
    """Attempts before giving up, including the first."""
    initial_interval: float = 0.5
'''

CLIENT = '''from config import DEFAULT_LIMITS, DEFAULT_TIMEOUT_SECONDS
from errors import TooManyRedirects


class Client:
    def __init__(self, limits=DEFAULT_LIMITS) -> None:
        self.limits = limits

    def _redirect_url(self, response) -> str:
        """Return the URL for the redirect to follow."""
        if response.count > 20:
            raise TooManyRedirects("too many")
        return response.location


def obfuscate_sensitive_headers(items):
    return [(k, "[secure]") for k, _ in items]
'''

ERRORS = '''class TooManyRedirects(Exception):
    """Too many redirects."""
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "config.py").write_text(CONFIG)
    (tmp_path / "client.py").write_text(CLIENT)
    (tmp_path / "errors.py").write_text(ERRORS)
    (tmp_path / "notes.txt").write_text("class NotPython: DEFAULT_LIMITS = 1\n")
    return tmp_path


def rows(out: str) -> list[str]:
    """The definition rows of an answer (not the header, docstrings or use lines)."""
    return [line for line in out.splitlines()[2:] if not line.startswith(" ")]


def test_a_name_puts_its_definition_first_with_its_docstring(project: Path) -> None:
    out = find(project, "Limits")
    assert out.splitlines()[1] == "Best match: class Limits, defined at config.py:10"
    assert rows(out)[0] == "config.py:10: class Limits"
    assert out.splitlines()[3] == '    """Configuration for limits on the connection pool."""'


def test_a_field_shows_its_class_its_value_and_its_docstring(project: Path) -> None:
    out = find(project, "How many attempts does RetryPolicy make by default (max_attempts)?")
    assert rows(out)[0] == "config.py:20: RetryPolicy.max_attempts: int = 3"
    assert '"""Attempts before giving up, including the first."""' in out


def test_words_find_a_constant_and_a_split_assignment_is_shown_whole(project: Path) -> None:
    out = find(project, "default maximum number of connections in the pool")
    first = rows(out)[0]
    assert first.startswith("config.py:6: DEFAULT_LIMITS = Limits(max_connections=100, "
                            "max_keepalive_connections=20)")
    assert "    used at client.py:6 (in def __init__ of class Client)" in out


def test_a_described_method_is_found_by_its_docstring(project: Path) -> None:
    out = find(project, "Which client method computes the URL to follow for a redirect?")
    assert rows(out)[0] == ("client.py:9: def _redirect_url(self, response) -> str  "
                            "(in Client)")


def test_an_exception_lists_where_it_is_raised_first(project: Path) -> None:
    out = find(project, "In which file is TooManyRedirects raised?")
    lines = out.splitlines()
    assert lines[1] == ("Best match: class TooManyRedirects, raised at client.py:12 (in def "
                        "_redirect_url of class Client); defined at errors.py:1")
    assert lines[2] == "errors.py:1: class TooManyRedirects(Exception)"
    assert lines[4] == "    raised at client.py:12 (in def _redirect_url of class Client)"


def test_other_files_and_broken_python_are_skipped(project: Path) -> None:
    (project / "broken.py").write_text("def NotPython(:\n")
    (project / "deep.py").write_text("x = " + "(" * 5000 + ")" * 5000 + "\n")
    out = find(project, "NotPython").splitlines()
    assert out[0] == ("No Python definition matches 'NotPython' (5 Python files searched); "
                      "text search:")  # broken.py and deep.py count, with no definition
    assert rows(find(project, "Limits"))[0] == "config.py:10: class Limits"


def test_a_changed_file_is_read_again(project: Path) -> None:
    assert "class Limits" in find(project, "Limits")
    path = project / "config.py"
    path.write_text(CONFIG.replace("class Limits", "class PoolLimits"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert rows(find(project, "PoolLimits"))[0] == "config.py:10: class PoolLimits"


def test_bad_input_is_a_readable_error(project: Path) -> None:
    assert find(project, "  ").startswith("Error: query is empty")
    assert find(project, "x" * 1001).startswith("Error: query must be under 1000")
    assert find(project, "a\x00b").startswith("Error:")
    assert find(project, "Limits", path="../..").startswith("Error:")
    assert find(project, "zzqqxx").startswith("No Python definition matches 'zzqqxx'")


def test_a_path_narrows_the_search(project: Path) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "limits.py").write_text("class Limits:\n    pass\n")
    assert rows(find(project, "Limits", path="sub")) == ["sub/limits.py:1: class Limits"]


def test_the_words_are_stemmed_and_abbreviations_joined() -> None:
    assert stem("retried") == stem("retry")
    assert terms("maximum connections") == terms("max_connections") == terms("maxConnections")
    assert "which" not in " ".join(terms("which of the values"))


def test_parse_reads_every_kind_of_definition() -> None:
    index = parse(CONFIG + CLIENT)
    kinds = {s.name: s.kind for s in index.symbols}
    assert kinds["DEFAULT_LIMITS"] == "value"
    assert kinds["RetryPolicy.initial_interval"] == "value"
    assert kinds["Limits.__init__"] == "def"
    assert kinds["Client._redirect_url"] == "def"
    assert "max_connections" not in kinds  # a function's local assignment is no definition
    raised = [u for u in index.uses["TooManyRedirects"] if u.raised]
    assert [u.scope for u in raised] == ["def _redirect_url of class Client"]


def test_the_tool_is_a_builtin_of_team_files(project: Path, tmp_path_factory: pytest.TempPathFactory
                                             ) -> None:
    tool = builtin_tool("find", project)
    assert tool.name == "find"
    assert "config.py:10: class Limits" in tool.invoke({"query": "Limits"})
    team = tmp_path_factory.mktemp("team") / "team.yaml"
    team.write_text("root: a\nagents:\n  - name: a\n    tools: [find]\n")
    agent = load_team(team, root=project)
    assert [t.name for t in agent.tools] == ["find"]
    with pytest.raises(SpecError):
        find_tool(project / "missing")


async def test_the_tool_runs_async(project: Path) -> None:
    out = await find_tool(project).ainvoke({"query": "obfuscate sensitive headers"})
    assert out.splitlines()[2].startswith("client.py:16: def obfuscate_sensitive_headers(items)")


def test_the_bytes_indexed_are_bounded_and_a_cut_is_said(project: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    size = (project / "client.py").stat().st_size
    monkeypatch.setattr(_find, "MAX_INDEXED_BYTES", size + 10)
    monkeypatch.setattr(_symbols, "MAX_INDEXED_BYTES", size + 10)
    out = find(project, "Limits")
    assert out.endswith("MB of Python (1 file indexed); narrow with path=...)")
    assert _symbols._cached_bytes <= size + 10 or len(_symbols._cache) == 1


def test_a_cut_walk_is_said(project: Path) -> None:
    out = find(project, "Limits", max_files=2)
    assert out.splitlines()[-1].startswith("(") and "narrow with path=" in out


def test_a_class_row_lists_its_fields_with_their_values(project: Path) -> None:
    out = find(project, "RetryPolicy").splitlines()
    assert out[2] == "config.py:17: class RetryPolicy(NamedTuple)"
    assert out[4] == "    fields: max_attempts: int = 3; initial_interval: float = 0.5"


def test_no_definition_falls_back_to_the_text_search(project: Path) -> None:
    (project / "notes.txt").write_text("the frobnicator lives here\n")
    out = find(project, "frobnicator").splitlines()
    assert out[0].startswith("No Python definition matches 'frobnicator'")
    assert "notes.txt:1: the frobnicator lives here" in out


def test_the_best_match_says_where_it_is_used_when_asked(project: Path) -> None:
    out = find(project, "Which constant holds the default limits, and where is it used?")
    assert out.splitlines()[1] == (
        "Best match: DEFAULT_LIMITS = Limits(max_connections=100, max_keepalive_connections=20), "
        "used at client.py:6 (in def __init__ of class Client); defined at config.py:6")
    purpose = find(project, "Which function is used to hide sensitive headers?").splitlines()[1]
    assert purpose == ("Best match: function obfuscate_sensitive_headers, defined at "
                       "client.py:16")  # "used to" is a purpose, not a question of where


def test_the_kind_asked_for_wins_over_a_named_context(project: Path) -> None:
    out = find(project, "Which constant is the default of Client's limits in client.py?")
    assert rows(out)[0].startswith("config.py:6: DEFAULT_LIMITS")
    method = find(project, "Which method of Client follows a redirect?").splitlines()[1]
    assert method == "Best match: method Client._redirect_url, defined at client.py:9"


CHANNELS = '''class LastValue:
    """Stores the last value received, at most one per step."""


class UntrackedValue:
    """Stores the last value received, never checkpointed."""


def expiry(keepalive: bool) -> float:
    return 5.0 if keepalive else 1.0


class Cache:
    """Kept in memory, never checkpointed."""


class Scratch:
    """A scratchpad, never checkpointed."""


class Pool:
    """A pool of connections."""

    def __init__(self, *, size: int = 10, keepalive_expiry: float = 5.0) -> None:
        self.size = size


class Plain:
    def __init__(self, size) -> None:
        self.size = size
'''


@pytest.fixture
def channels(tmp_path: Path) -> Path:
    (tmp_path / "channels.py").write_text(CHANNELS)
    return tmp_path


def test_a_definition_matching_every_word_beats_one_matching_fewer_by_name(
        channels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    question = "Which class stores the last value received but is never checkpointed?"
    assert rows(find(channels, question))[0] == "channels.py:5: class UntrackedValue"
    monkeypatch.setattr(_find, "_COVERAGE", 0.0)  # weights alone: "last" in a name wins
    assert rows(find(channels, question))[0] == "channels.py:1: class LastValue"


def test_a_class_row_shows_its_constructors_defaults(channels: Path) -> None:
    out = find(channels, "Pool").splitlines()
    assert out[2] == "channels.py:21: class Pool"
    assert out[4] == "    fields: __init__(size: int=10, keepalive_expiry: float=5.0)"
    plain = find(channels, "Plain").splitlines()
    assert not any(line.startswith("    fields:") for line in plain)  # no default to show


def test_a_name_written_as_code_lifts_the_definitions_holding_it(channels: Path) -> None:
    out = rows(find(channels, "What is keepalive_expiry?"))
    assert out[0] == ("channels.py:24: def __init__(self, *, size: int=10, "
                      "keepalive_expiry: float=5.0) -> None  (in Pool)")
    assert out[1].startswith("channels.py:9: def expiry(keepalive: bool)")  # its parts only


HEADERS = '''SECRET_HEADERS = {"authorization", "proxy-authorization"}


def _mask_secret_headers(items: dict) -> dict:
    return {k: ("[masked]" if k in SECRET_HEADERS else v) for k, v in items.items()}


def parse_header(line: str) -> tuple:
    return tuple(line.split(":", 1))


def encode_form(data: dict) -> bytes:
    return repr(data).encode()


def read_body(stream: bytes) -> str:
    return stream.decode()


class Request:
    """An outgoing request with its headers and body."""


class Response:
    """An incoming response with its status code."""


class BasicAuth:
    """Adds a basic authorization header to each request."""


def build_authorization(user: str, password: str) -> str:
    return f"{user}:{password}"
'''


def test_the_kind_asked_for_wins_over_another_kind_matching_more_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "headers.py").write_text(HEADERS)
    question = "Which function hides the values of secret headers such as authorization?"
    best = "Best match: function _mask_secret_headers, defined at headers.py:4"
    assert find(tmp_path, question).splitlines()[1] == best
    constant = find(tmp_path, "Which constant lists the secret headers?").splitlines()[1]
    assert constant.startswith("Best match: SECRET_HEADERS = ")
    monkeypatch.setattr(_find, "_OTHER_KIND", 0.7)  # the value also matches "authorization"
    assert find(tmp_path, question).splitlines()[1] != best
