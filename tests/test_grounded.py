"""The ``grounded`` answer check: claims no tool result shows are rejected, with hints.

Properties run whole agents on the scripted model: a tool shows a generated text, the agent
answers with spans of it (accepted) or with an injected identifier or number (rejected,
named in the correction). Hostile 40 KB answers run under a hypothesis deadline as a hang
guard (a quadratic scan takes minutes there), not as a timing assertion.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from subagents import Agent, compile_agent
from subagents.nodes._decide import ANSWER_CHECK, ERROR_KEY
from subagents.nodes.plan import NUDGE_KEY, STOP_KEY
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call
from subagents.tools import all_checks, builtin_check, grounded, paths_exist
from subagents.tools._grounded import MAX_CLAIMS, Claim, claims

SHOWN: dict[str, str] = {"text": "", "answer": ""}


@tool
def show() -> str:
    """Show the generated tool result."""
    return SHOWN["text"]


def _policy(messages: list[BaseMessage]) -> AIMessage:
    if not any(isinstance(m, ToolMessage) for m in messages):
        return ai(call("show"))
    return ai(SHOWN["answer"])


GRAPH = compile_agent(Agent(name="root", model=ScriptedChatModel(policy=_policy), tools=[show],
                            answer_check=grounded(), max_output_retries=0, max_steps=3))


async def _verdict(text: str, answer: str) -> str | None:
    """Run the agent: the tool shows ``text``, the agent answers ``answer``; the complaint."""
    SHOWN.update(text=text, answer=answer)
    out = await GRAPH.ainvoke({"messages": [HumanMessage("Where is it?")]})
    last = out["messages"][-1]
    assert last.content == answer
    if last.response_metadata.get(STOP_KEY) == ANSWER_CHECK:
        complaint = last.response_metadata[ERROR_KEY]
        assert isinstance(complaint, str)
        return complaint
    return None


_ident = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z")
_number = st.from_regex(r"\A\d{1,4}(\.\d{1,2})?\Z")
_path = st.from_regex(r"\A(\./)?[a-z_]{1,6}(/[a-z_]{1,6}){0,2}\.(py|md|yaml)\Z")
_dotted = st.builds(lambda a, b: f"{a}.{b}", _ident, _ident)
_quoted = st.one_of(
    st.text(st.characters(blacklist_characters='"\n'), min_size=1, max_size=20).map(
        lambda t: f'"{t}"'),
    st.from_regex(r"\A[a-z_]{1,8}\Z").map(lambda t: f"'{t}'"))
_prose = st.text(st.characters(blacklist_characters="\"'", blacklist_categories=["Cs"]),
                 max_size=12)
_tokens = st.lists(st.one_of(_ident, _number, _path, _dotted, _quoted, _prose),
                   min_size=1, max_size=30)
_SEPS = [" ", ", ", "\n", " = ", "(", ")", ": ", "\t"]


@st.composite
def _shown_and_spans(draw: Any) -> tuple[str, list[str]]:
    """A tool text of tokens and separators, and spans of it on token boundaries."""
    tokens = draw(_tokens)
    seps = [draw(st.sampled_from(_SEPS)) for _ in tokens]
    pieces = [t + s for t, s in zip(tokens, seps, strict=True)]
    spans = []
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(pieces) - 1))
        j = draw(st.integers(i + 1, min(len(pieces), i + 10)))
        spans.append("".join(pieces[i:j]))
    return "".join(pieces), spans


PROPS = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPS
@given(_shown_and_spans())
async def test_an_answer_made_of_tool_result_spans_is_accepted(
        case: tuple[str, list[str]]) -> None:
    text, spans = case
    assert await _verdict(text, " ".join(spans)) is None


@PROPS
@given(_shown_and_spans(), st.one_of(
    st.from_regex(r"\A[A-Z][a-z]{2,6}[A-Z][a-z]{2,6}\Z"),      # CamelCase
    st.from_regex(r"\A[A-Z]{2,6}_[A-Z]{2,6}\Z"),               # CONSTANT_NAME
    st.from_regex(r"\A[a-z]{2,6}_[a-z]{2,6}\Z"),               # snake_case
    st.integers(10, 10**9).map(str)), st.data())
async def test_an_injected_identifier_or_number_is_rejected_and_named(
        case: tuple[str, list[str]], injected: str, data: Any) -> None:
    text, spans = case
    words = {w for c in claims(text) for w in (c.text, *c.text.split("."))}
    if injected in words or injected in text:
        injected = f"Zq_{injected}_qZ"
    at = data.draw(st.integers(0, len(spans)))
    answer = " ".join([*spans[:at], injected, *spans[at:]])
    complaint = await _verdict(text, answer)
    assert complaint is not None and f"`{injected}`" in complaint


HOSTILE = [
    "a." * 20_000, "./" * 20_000 + "x.py", "_" * 40_000, '"' * 40_000, "'a" * 20_000,
    '"' + "a" * 40_000, "1." * 20_000, "a/" * 20_000, "x_Y " * 10_000, "A_b.py " * 5_000,
    ("DEFAULT_X " * 10 + "\n") * 400, "é_ß" * 13_000, "\x00_" * 20_000,
]


@settings(max_examples=len(HOSTILE) * 2, deadline=20_000)  # hang guard, not a timing test
@given(st.sampled_from(HOSTILE), st.sampled_from(HOSTILE))
def test_hostile_40kb_answers_and_tool_results_stay_bounded(answer: str, shown: str) -> None:
    found = claims(answer)
    assert len(found) <= MAX_CLAIMS
    messages: list[BaseMessage] = [HumanMessage("q"),
                                   ToolMessage(shown, tool_call_id="1"), AIMessage(answer)]
    complaint = grounded()(answer, messages)
    assert complaint is None or len(complaint) < 10_000


def test_claims_are_code_names_numbers_paths_and_quotes_not_prose() -> None:
    answer = ('The default is DEFAULT_TIMEOUT = 5.0, set in ./httpx/_config.py:42 by '
              'httpx.Timeout (see StateGraph and getValue); "pool" or \'read\'. It\'s fine.')
    assert claims(answer) == [
        Claim("identifier", "DEFAULT_TIMEOUT"), Claim("number", "5.0"),
        Claim("path", "httpx/_config.py"), Claim("number", "42"),
        Claim("identifier", "httpx.Timeout"), Claim("identifier", "StateGraph"),
        Claim("identifier", "getValue"), Claim("quoted", "pool"), Claim("quoted", "read")]


def _run(*tool_texts: str, task: str = "What is the default timeout?",
         status: str = "success") -> list[BaseMessage]:
    return [SystemMessage("Example: grep(pattern=\"class Session\") MAX_PROMPT_NAME"),
            HumanMessage(task),
            *(ToolMessage(t, tool_call_id=str(i), status=status)  # type: ignore[arg-type]
              for i, t in enumerate(tool_texts))]


GREP = ("_config.py:12: DEFAULT_TIMEOUT_CONFIG = Timeout(timeout=5.0)\n"
        "_config.py:13: DEFAULT_LIMITS = Limits(max_connections=100)")


def test_the_correction_lists_unsupported_claims_and_the_closest_spans() -> None:
    check = grounded()
    assert check("DEFAULT_TIMEOUT_CONFIG is Timeout(timeout=5.0), _config.py line 12",
                 _run(GREP)) is None
    complaint = check("It is DEFAULT_TIMEOUT = 7.5 in utils/timeouts.py", _run(GREP))
    assert complaint is not None
    for item in ("`DEFAULT_TIMEOUT` (identifier)", "`7.5` (number)",
                 "`utils/timeouts.py` (path)"):
        assert item in complaint
    assert ("`DEFAULT_TIMEOUT_CONFIG` (in: `_config.py:12: DEFAULT_TIMEOUT_CONFIG = "
            "Timeout(timeout=5.0)`)") in complaint


def test_errors_nudges_and_the_system_prompt_support_nothing() -> None:
    check = grounded()
    answer = "It is set by InventedName in made_up.py"
    failed = _run("Error: made_up.py does not exist; InventedName", status="error")
    assert check(answer, failed) is not None
    assert check(answer, _run("Error: made_up.py does not exist; InventedName")) is not None
    nudge = HumanMessage("InventedName made_up.py", additional_kwargs={NUDGE_KEY: True})
    assert check(answer, [*_run(), nudge]) is not None
    assert check("MAX_PROMPT_NAME", _run()) is not None  # only in the system prompt
    # the task supports its own words; allow= admits product names
    assert check(answer, _run(task="Is InventedName in made_up.py?")) is None
    assert grounded(allow=["LangGraph"])("LangGraph says DEFAULT_LIMITS", _run(GREP)) is None


def test_paths_match_by_tail_either_way() -> None:
    check = grounded()
    shown = _run("graph/state.py:10: class StateGraph:")
    assert check("StateGraph is in state.py", shown) is None
    assert check("StateGraph is in langgraph/graph/state.py", shown) is None
    assert check("StateGraph is in other/state.py", shown) is not None


def test_all_checks_joins_every_correction(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("x = 1\n")
    both = all_checks(paths_exist(tmp_path), grounded())
    assert both("x is in real.py", _run("real.py:1: x = 1")) is None
    complaint = both("It is in nowhere.py via MadeUp_NAME", _run())
    assert complaint is not None and len(complaint.splitlines()) == 2
    assert "`nowhere.py` does not exist" in complaint and "`MadeUp_NAME`" in complaint
    with pytest.raises(ValueError, match="at least one"):
        all_checks()


def test_team_file_answer_check_list_and_single_name(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("x = 1\n")
    team = tmp_path / "team.yaml"
    team.write_text(textwrap.dedent("""\
        root: dev
        agents:
          - name: dev
            tools: [grep]
            answer_check: [paths_exist, grounded]
            subagents: [one]
          - name: one
            answer_check: grounded
        """))
    dev = load_team(team, root=tmp_path)
    check = dev.answer_check
    assert check is not None
    complaint = check("See nowhere.py and MadeUp_NAME", _run())
    assert complaint is not None and "nowhere.py" in complaint and "MadeUp_NAME" in complaint
    one = dev.subagents[0]
    assert isinstance(one, Agent) and one.answer_check is not None
    assert one.answer_check("See nowhere.py", _run()) is not None
    assert builtin_check(["grounded"], tmp_path)("plain words", _run()) is None


def test_a_delegation_result_supports_what_its_json_escapes() -> None:
    result = ('{"status": "completed", "result": "_config.py:248: DEFAULT_MAX_REDIRECTS = 20\\n'
              '_client.py:198: max_redirects: int = DEFAULT_MAX_REDIRECTS"}')
    check = grounded()
    assert check("DEFAULT_MAX_REDIRECTS = 20, used in _client.py", _run(result)) is None
    assert check("DEFAULT_MAX_REDIRECTS = 30", _run(result)) is not None
