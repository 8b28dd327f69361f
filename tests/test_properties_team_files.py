"""Property: every team file ends as a loaded team or a typed, line-numbered error, in time.

Generated files mix plausible teams (every agent field, JSON output schemas, allow lists)
with hostile structure: shared values that ``yaml.safe_dump`` writes as anchors and aliases
(nested, they are alias bombs), values that contain themselves (recursive aliases), deep
nesting, random fields, then byte-level damage (odd bytes, NUL, invalid UTF-8, duplicated
lines, truncation). Each case loads in a forked child with a deadline and an address-space
limit (``_sandbox``): a case that hangs or exhausts memory fails as ``timeout`` / ``crash``
instead of freezing the suite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from _properties_support import SETTINGS
from _team_sandbox import load_in_sandbox
from subagents.teams import AGENT_FIELDS

OUTCOMES: Counter[str] = Counter()

NAMES = ["dev", "explore", "search", "helper", "task", "final_answer", "dev\n", "a b", ""]
WORDS = ["grep", "read_file", "list_dir", "paths_exist", "local", "openai:gpt-4o-mini",
         "python:os:abort", "per_agent", "task", "agent_status", "find", "true", "5", "~"]
names = st.one_of(st.sampled_from(NAMES), st.text(max_size=8))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.floats(-1e3, 1e3),
                    st.sampled_from(WORDS), st.text(max_size=12))


def _repeat(value: Any, times: int) -> list[Any]:
    return [value] * times  # one object, dumped as an anchor and aliases


def _nest(depth: int, value: Any, as_map: bool) -> Any:
    for _ in range(depth):
        value = {"k": value} if as_map else [value]
    return value


def _bomb(leaf: Any, width: int, levels: int) -> list[Any]:
    """``levels`` lists of ``width`` times the one below: ``width ** levels`` leaves."""
    value: list[Any] = [leaf] * width
    for _ in range(levels):
        value = [value] * width
    return value


def _self_containing(value: Any) -> list[Any]:
    loop: list[Any] = [value]
    loop.append(loop)
    return loop


def _extend(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(WORDS)), kids,
                        max_size=4),
        st.builds(_repeat, kids, st.integers(2, 12)),
    )


hostile = st.one_of(
    st.builds(_nest, st.integers(0, 150), scalars, st.booleans()),
    st.builds(_bomb, scalars, st.integers(2, 10), st.integers(1, 9)),
    st.builds(_self_containing, scalars),
)
values = st.recursive(st.one_of(scalars, hostile), _extend, max_leaves=24)
KINDS = ["object", "string", "integer", "number", "boolean", "array", "null", "nope"]
props = st.fixed_dictionaries({"type": st.sampled_from(KINDS)}, optional={
    "default": values, "enum": st.lists(scalars, max_size=3), "pattern": st.text(max_size=6),
    "minLength": scalars, "maximum": scalars, "items": st.just({"type": "string"}),
    "description": values,
})
schemas = st.one_of(values, st.fixed_dictionaries(
    {"type": st.just("object"),
     "properties": st.dictionaries(st.one_of(names, st.integers(0, 3)), props, max_size=4)},
    optional={"required": st.lists(names, max_size=3), "additionalProperties": scalars}))
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "tools": st.one_of(st.lists(st.sampled_from(WORDS), max_size=3), values),
    "subagents": st.one_of(st.lists(names, max_size=3), values),
    "output_schema": schemas, "input_schema": schemas,
}
agents = st.fixed_dictionaries({"name": names}, optional={
    **{field: FIELD_VALUES.get(field, values) for field in AGENT_FIELDS if field != "name"},
    "nmae": values,
})
hostile_teams = st.one_of(
    st.fixed_dictionaries({"agents": st.lists(agents, max_size=4)},
                          optional={"root": st.one_of(names, values), "extra": values}),
    values,
)
REAL = ["dev", "explore", "search", "helper"]
valid_schemas = st.dictionaries(st.sampled_from(["path", "count", "ok", "a-b", "field_1"]),
                                st.sampled_from(["string", "integer", "number", "boolean"]),
                                max_size=3).map(lambda p: {
                                    "type": "object", "required": sorted(p)[:1],
                                    "properties": {k: {"type": v} for k, v in p.items()}})
plausible_agents = st.fixed_dictionaries({"name": st.sampled_from(REAL)}, optional={
    "description": st.text(max_size=20), "prompt": st.text(max_size=20),
    "tools": st.lists(st.sampled_from(["grep", "read_file", "list_files"]), unique=True,
                      max_size=3),
    "subagents": st.lists(st.sampled_from(REAL), unique=True, max_size=2),
    "max_steps": st.integers(1, 5), "delegation": st.sampled_from(["task", "per_agent"]),
    "persistent": st.booleans(), "output_schema": valid_schemas,
    "model": st.sampled_from(["local", "openai:gpt-4o-mini", "python:os:abort"]),
})


def _share(agents: list[dict[str, Any]]) -> dict[str, Any]:
    """One tools list object for every agent that has tools (dumped as anchor + aliases)."""
    shared = next((a["tools"] for a in agents if "tools" in a), None)
    for agent in agents:
        if "tools" in agent:
            agent["tools"] = shared
    return {"agents": agents}


plausible_teams = st.lists(plausible_agents, min_size=1, max_size=4,
                           unique_by=lambda a: a["name"]).map(_share)
teams = st.one_of(plausible_teams, hostile_teams)
# Byte damage: (where, 0..1 of the length; what).
damage = st.lists(st.tuples(st.floats(0, 1), st.one_of(
    st.binary(min_size=1, max_size=4), st.sampled_from(
        [b"\x00", b"\xff", b"\xed\xa0\x80", b"\x01", b"\t", b"\n", b"&a ", b"*a", b"<<: ",
         b"[", b"{", b"!!python/object:os.system ", b"---\n", b"DUP", b"CUT"]),
    st.integers(65, 300_000).map(lambda n: b"[" * n),  # deep flow nesting
)), max_size=3)
damage = st.one_of(st.just([]), damage)


class TeamFile(bytes):
    """A generated file's bytes, shown (when a case fails) as its length and first 2,000
    bytes: the generated value behind it may repeat one list a billion times."""

    def __repr__(self) -> str:
        return f"TeamFile({len(self)} bytes: {bytes(self[:2000])!r})"


def _dump(team: Any, flow: bool, unicode: bool) -> bytes:
    text = yaml.safe_dump(team, default_flow_style=flow, allow_unicode=unicode,
                          sort_keys=False, width=60)
    return text.encode("utf-8")


def _damage(data: bytes, edits: list[tuple[float, bytes]]) -> bytes:
    for where, what in edits:
        at = int(where * len(data))
        if what == b"CUT":
            data = data[:at]
        elif what == b"DUP":  # repeat the line at ``at`` (duplicate keys)
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            line = data[start:end + 1 if end >= 0 else len(data)]
            data = data[:start] + line + data[start:]
        else:
            data = data[:at] + what + data[at:]
    return data


@st.composite
def team_files(draw: st.DrawFn) -> TeamFile:
    """Generated team files (composite: a failure shows the bytes, not the values drawn)."""
    team = draw(teams)
    text = _dump(team, draw(st.booleans()), draw(st.booleans()))
    return TeamFile(_damage(text, draw(damage)))


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\nteam files: {dict(OUTCOMES)}")


@settings(SETTINGS, max_examples=300, phases=[Phase.explicit, Phase.generate])  # no shrinking:
# a regression's cases each wait for the deadline; the first failing one is reported as is
@given(data=team_files(), trusted=st.booleans())
def test_every_team_file_loads_or_fails_with_a_line_in_time(
        tmp_path: Path, data: TeamFile, trusted: bool) -> None:
    path = tmp_path / "team.yaml"
    path.write_bytes(data)
    outcome = load_in_sandbox(path, trusted=trusted)
    OUTCOMES[outcome.status] += 1
    assert outcome.status in ("ok", "error"), outcome.detail
    if outcome.status == "error":
        assert outcome.file == str(path), outcome
        assert outcome.line is not None, outcome
        assert 1 <= outcome.line <= data.count(b"\n") + 1, outcome
        assert outcome.detail.startswith(f"{path}:{outcome.line}: "), outcome
