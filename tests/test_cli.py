"""The CLI (typer CliRunner) and the run loop behind it, with scripted models only."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from rich.console import Console
from typer.testing import CliRunner

from subagents import Agent, LoopGuard, Status
from subagents.checkpoints.events_log import EventLog
from subagents.cli import (
    DelegationNode,
    EventTree,
    RunReport,
    app,
    delegation_tree,
    replay_report,
    run_team,
    status_text,
    usage_totals,
)
from subagents.cli import main as cli_main
from subagents.cli.render import usage_rows
from subagents.events import ModelEnd, SubagentEnd, SubagentStart
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

EXAMPLE = Path(__file__).resolve().parent / "fakes" / "nested_team.yaml"
"""A three-level team (dev -> explore -> search): the CLI's trees, drawings and detail levels."""
SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "codebase_explorer.yaml"
runner = CliRunner()


def explorer_script() -> ScriptedChatModel:
    return ScriptedChatModel(steps={
        "dev": [ai(call("task", agent="explore", objective="Find where 'timeout' is set")),
                ai("TIMEOUT is set in app.py line 1.")],
        "explore": [ai(call("grep", pattern="timeout")),
                    ai(call("task", agent="search", objective="who reads TIMEOUT")),
                    ai("app.py:1 sets TIMEOUT = 30")],
        "search": [ai("app.py:1")],
    })


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "app.py").write_text("TIMEOUT = 30\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------ run_team


async def test_run_team_gathers_the_delegation_tree(project: Path) -> None:
    model = explorer_script()
    seen: list[str] = []
    report = await run_team(load_team(EXAMPLE, root=project), "Where is the timeout?",
                            model=model, on_update=lambda r: seen.append(status_text(r)))
    model.assert_complete()
    assert report.answer == "TIMEOUT is set in app.py line 1."
    tree = report.tree
    assert (tree.agent, tree.status, tree.model_calls) == ("dev", "completed", 2)
    (explore,) = tree.children
    assert (explore.agent, explore.objective, explore.status) == (
        "explore", "Find where 'timeout' is set", Status.COMPLETED.value)
    assert explore.result == "app.py:1 sets TIMEOUT = 30"
    assert explore.model_calls == 3 and explore.tokens > 0
    (search,) = explore.children
    assert (search.path, search.model_calls, search.result) == (
        ("dev", "explore", "search"), 1, "app.py:1")
    assert explore.input_tokens == sum(
        c.reply.usage_metadata["input_tokens"] for c in model.calls_by("explore")
        if c.reply is not None and c.reply.usage_metadata is not None)
    assert "explore is working... (0 s)" in seen and "search is working... (0 s)" in seen
    assert report.thread_id is None and not report.cancelled


async def test_parallel_runs_of_one_agent_are_told_apart() -> None:
    def policy(messages: list[Any], agent: str | None) -> AIMessage:
        last = messages[-1]
        if agent == "root":
            if isinstance(last, HumanMessage):
                return ai(*[call("task", agent="w", objective=f"job {i}") for i in range(3)])
            return ai("all done")
        n = int(str(messages[-1].content).split()[-1]) if isinstance(last, HumanMessage) else 0
        return ai(call("noop")) if n == 2 and isinstance(last, HumanMessage) else ai(f"did {n}")

    from langchain_core.tools import tool

    @tool
    def noop() -> str:
        """Do nothing."""
        return "ok"

    root = Agent(name="root", subagents=[Agent(name="w", tools=[noop])])
    report = await run_team(root, "go", model=ScriptedChatModel(policy=policy))
    calls = {n.objective: n.model_calls for n in report.tree.children}
    assert calls == {"job 0": 1, "job 1": 1, "job 2": 2}


async def test_per_agent_tools_appear_in_the_tree() -> None:
    # A refused delegation (unknown agent) runs nothing: a closed, refused node in the tree.
    model = ScriptedChatModel(steps={
        "root": [ai(call("task_a", objective="x"), call("look", q="1")), ai("ok")],
        "a": [ai(call("task", agent="ghost", objective="boo")), ai("a done")],
    })
    a = Agent(name="a", subagents=[Agent(name="b")])
    root = Agent(name="root", subagents=[a], delegation="per_agent", max_subagent_depth=2)
    report = await run_team(root, "go", model=model)
    (node_a,) = report.tree.children
    assert (node_a.agent, node_a.objective, node_a.status) == ("a", "x", "completed")
    assert (node_a.model_calls, node_a.tool_calls) == (2, 1)
    assert report.tree.tool_calls == 2
    assert "a" in str(delegation_tree(report).children[0].label)
    (ghost,) = node_a.children
    assert (ghost.path, ghost.objective, ghost.status, ghost.refused, ghost.model_calls) == (
        ("root", "a", "ghost"), "boo", "unknown_agent", True, 0)
    assert ghost.error == "'ghost' is not a sub-agent a may delegate to; allowed: b"


def tree_lines(report: RunReport) -> list[str]:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(delegation_tree(report, width=60))
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


async def test_a_refused_delegation_is_one_line_with_its_status() -> None:
    model = ScriptedChatModel(steps={
        "root": [ai(call("task", agent="ghost", objective="boo"),
                    call("task", agent="w", objective="work")),
                 ai(call("task", agent="w", objective="work")), ai("done")],
        "w": [ai("worked")],
    })
    root = Agent(name="root", subagents=[Agent(name="w")], loop_guard=LoopGuard(max_repeats=1))
    report = await run_team(root, "go", model=model)
    lines = tree_lines(report)
    assert lines[0].startswith('✗ root  "go"  failed  ')  # stopped by the loop guard
    ghost, worked, repeated = lines[1:]
    assert ghost == ("├── ⊘ ghost  \"boo\"  unknown_agent  refused  'ghost' is not a sub-agent "
                     "root may delegate to; allowed: w")
    assert worked.startswith('├── ✓ w  "work"  completed  0.0 s · 1 model call · ')
    assert repeated == ('└── ✗ w  "work"  failed  refused  not run: this reply repeats an '
                        "earlier identical tool call")
    statuses = [(n.agent, n.status, n.refused) for n in report.tree.children]
    assert statuses == [("ghost", "unknown_agent", True), ("w", "completed", False),
                        ("w", "failed", True)]


async def test_cancelling_a_run_marks_open_nodes_cancelled() -> None:
    model = ScriptedChatModel(latency=5, steps={"root": [ai("never")]})
    started = asyncio.Event()
    task = asyncio.create_task(run_team(Agent(name="root"), "go", model=model,
                                        on_event=lambda event: started.set()))
    await asyncio.wait_for(started.wait(), timeout=10)  # the root's start: the run is on
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    report: RunReport = info.value.report  # type: ignore[attr-defined]
    assert report.cancelled and report.tree.status == "cancelled"


# ---------------------------------------------------------------------------------- run


def _table_rows(out: str) -> list[tuple[str, list[str]]]:
    """The usage table's rows: (agent path, other cells without the status symbol)."""
    rows: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 8 and cells[1] in "✓✗⏱⊘":
            rows.append((cells[0], cells[2:]))
        elif len(cells) == 6 and cells[0] == "total":
            rows.append(("total", ["", *cells[1:]]))
    return rows


def test_cli_run_prints_usage_table_and_answer(project: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    model = explorer_script()
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", model)
    result = runner.invoke(app, ["run", str(EXAMPLE), "Where is the timeout?"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.rstrip().endswith("TIMEOUT is set in app.py line 1.")
    assert "\x1b[" not in out  # not a terminal: no live display, no styling
    rows = _table_rows(out)
    assert [name for name, _ in rows] == ["dev", "dev/explore", "dev/explore/search", "total"]
    assert [cells[:2] for _, cells in rows[:3]] == [["completed", "2"], ["completed", "3"],
                                                   ["completed", "1"]]
    for col in range(1, 5):  # model calls, input tokens, output tokens, tool calls
        total = sum(int(cells[col].replace(",", "")) for _, cells in rows[:3])
        assert int(rows[3][1][col].replace(",", "")) == total > 0
    model.assert_complete()


async def test_usage_totals_are_the_sum_over_agents(project: Path) -> None:
    report = await run_team(load_team(EXAMPLE, root=project), "Where?", model=explorer_script())
    rows = usage_rows(report.tree)
    total = usage_totals(report.tree)
    assert [r.agent for r in rows] == ["dev", "dev/explore", "dev/explore/search"]
    assert (total.model_calls, total.tool_calls) == (6, 3)
    assert total.input_tokens == sum(r.input_tokens for r in rows) > 0
    assert total.output_tokens == sum(r.output_tokens for r in rows) > 0
    assert report.usage is not None
    assert report.usage["totals"] == {"model_calls": total.model_calls,
                                      "input_tokens": total.input_tokens,
                                      "output_tokens": total.output_tokens,
                                      "tool_calls": total.tool_calls}
    assert total.seconds == report.tree.seconds


@pytest.mark.parametrize("detail", ["summary", "all", "ALL"])
def test_cli_run_detail_option(project: Path, monkeypatch: pytest.MonkeyPatch,
                               detail: str) -> None:
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", explorer_script())
    result = runner.invoke(app, ["run", str(EXAMPLE), "q", "--detail", detail])
    assert result.exit_code == 0, result.output
    assert [name for name, _ in _table_rows(result.stdout)] == [
        "dev", "dev/explore", "dev/explore/search", "total"]


def test_cli_run_detail_must_be_known(project: Path) -> None:
    result = runner.invoke(app, ["run", str(EXAMPLE), "q", "--detail", "loud"])
    assert result.exit_code == 2


async def test_summary_detail_hides_sub_agent_chatter(project: Path) -> None:
    seen: dict[str, set[int]] = {"summary": set(), "all": set()}
    for detail in ("summary", "all"):
        def watch(report: RunReport, detail: str = detail) -> None:
            explore = report.tree.children[0] if report.tree.children else None
            if explore is not None and explore.status == "running":
                seen[detail].add(explore.model_calls)

        report = await run_team(load_team(EXAMPLE, root=project), "q", model=explorer_script(),
                                on_update=watch, detail=detail)
        assert report.tree.children[0].model_calls == 3  # settled from its usage at the end
    assert seen["summary"] == {0} and seen["all"] == {0, 1, 2, 3}


def test_cli_run_live_display_on_a_terminal(project: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", explorer_script())
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    result = runner.invoke(app, ["run", str(EXAMPLE), "q", "--detail", "all"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[?25l" in out and "\x1b[?25h" in out  # the live view hid the cursor
    assert "✓" in out and "explore" in out and "TIMEOUT is set in app.py line 1." in out


def test_cli_run_quiet_prints_only_the_answer(project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", explorer_script())
    result = runner.invoke(app, ["run", str(EXAMPLE), "Where?", "--quiet", "--root", "."])
    assert result.exit_code == 0, result.output
    assert result.stdout == "TIMEOUT is set in app.py line 1.\n"


SCRIPTED_TEAM = """
from subagents import Agent
from subagents.testing import ScriptedChatModel, ai, call

model = ScriptedChatModel(steps={
    "lead": [ai(call("task", agent="helper", objective="help"),
                call("task", agent="helper", objective="fail")), ai("lead says hi")],
    "helper": [ai("helped"), RuntimeError("helper exploded")],
})

def build(root):
    assert root.is_dir()
    return Agent(name="lead", model=model, subagents=[Agent(name="helper")])
"""


def test_cli_run_with_db_then_replay(project: Path) -> None:
    (project / "scripted_team.py").write_text(SCRIPTED_TEAM)
    db = project / "runs" / "state.db"
    result = runner.invoke(app, ["run", "scripted_team.py:build", "hi", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("lead says hi")
    match = re.search(r"run id: ([0-9a-f]{32})", result.stderr)
    assert match is not None and db.exists()
    run_id = match.group(1)
    ran = _table_rows(result.stdout)
    assert sorted((name, cells[0]) for name, cells in ran) == [
        ("lead", "completed"), ("lead/helper", "completed"), ("lead/helper", "failed"),
        ("total", "")]

    listed = runner.invoke(app, ["replay", "--db", str(db)])
    assert listed.exit_code == 0 and listed.stdout.split() == [run_id]
    replayed = runner.invoke(app, ["replay", run_id, "--db", str(db)])
    assert replayed.exit_code == 0, replayed.output
    again = _table_rows(replayed.stdout)
    assert [(name, cells[:5]) for name, cells in again] == [
        (name, cells[:5]) for name, cells in ran]
    lines = replayed.stdout.splitlines()
    assert lines[0].startswith('✓ lead  "hi"  completed')
    assert any(line.startswith('└── ✗ helper  "fail"  failed') for line in lines)
    assert "RuntimeError: helper exploded" in " ".join(replayed.stdout.split())
    assert replayed.stdout.rstrip().endswith("lead says hi")


REFUSING_TEAM = """
from subagents import Agent
from subagents.testing import ScriptedChatModel, ai, call

def build(root):
    model = ScriptedChatModel(steps={
        "lead": [ai(call("task", agent="ghost", objective="haunt")), ai("lead done")],
    })
    return Agent(name="lead", model=model, subagents=[Agent(name="helper")])
"""


def test_cli_run_and_replay_show_a_refused_delegation(project: Path) -> None:
    (project / "refusing_team.py").write_text(REFUSING_TEAM)
    db = project / "state.db"
    result = runner.invoke(app, ["run", "refusing_team.py:build", "hi", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert [(name, cells[:2]) for name, cells in _table_rows(result.stdout)] == [
        ("lead", ["completed", "2"]), ("lead/ghost", ["unknown_agent", "0"]), ("total", ["", "2"])]
    match = re.search(r"run id: ([0-9a-f]{32})", result.stderr)
    assert match is not None
    replayed = runner.invoke(app, ["replay", match.group(1), "--db", str(db)])
    assert replayed.exit_code == 0, replayed.output
    assert any(line.startswith('└── ⊘ ghost  "haunt"  unknown_agent  refused  \'ghost\' is not')
               for line in replayed.stdout.splitlines()), replayed.stdout


def test_cli_replay_unknown_run_id_lists_the_known_ones(project: Path) -> None:
    (project / "scripted_team.py").write_text(SCRIPTED_TEAM)
    db = project / "state.db"
    ids = []
    for _ in range(2):
        result = runner.invoke(app, ["run", "scripted_team.py:build", "hi", "--db", str(db)])
        assert result.exit_code == 0, result.output
        match = re.search(r"run id: ([0-9a-f]{32})", result.stderr)
        assert match is not None
        ids.append(match.group(1))
    result = runner.invoke(app, ["replay", "nope", "--db", str(db)])
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert f"error: unknown run id 'nope' in {db}; known run ids: {ids[0]}, {ids[1]}" in err
    missing = runner.invoke(app, ["replay", "x", "--db", str(project / "none.db")])
    assert missing.exit_code == 1 and "no such database file" in " ".join(missing.stderr.split())
    assert not (project / "none.db").exists()
    assert runner.invoke(app, ["replay", "x"]).exit_code == 2  # --db is required


async def test_replay_report_matches_the_live_report(project: Path, tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.db")
    try:
        report = await run_team(load_team(EXAMPLE, root=project), "Where?",
                                model=explorer_script(), on_event=log.sink("r1"),
                                detail="summary")
    finally:
        log.close()
    events = log.events("r1")
    assert events[0].type == "subagent_start" and events[-1].type == "subagent_end"
    assert any(e.type == "model_end" and len(e.path) == 3 for e in events)  # all detail
    again = replay_report(events)

    def shape(node: DelegationNode) -> list[tuple[Any, ...]]:
        return [(n.path, n.tool_call_id, n.objective, n.status, n.model_calls, n.input_tokens,
                 n.output_tokens, n.tool_calls, round(n.seconds, 3)) for n in node.walk()]

    assert shape(again.tree) == shape(report.tree)
    assert (again.question, again.answer) == ("Where?", report.answer)


def test_event_tree_fixes_parents_from_usage() -> None:
    # Two parallel runs of "w"; the start of the second's child "x" arrives while the first
    # "w" was heard from last, so it is first attached there, then moved by the usage tree.
    def usage(path: list[str], tcid: str, children: list[Any]) -> dict[str, Any]:
        return {"path": path, "tool_call_id": tcid, "model_calls": 1, "input_tokens": 2,
                "output_tokens": 3, "tool_calls": len(children), "seconds": 1.5,
                "status": "completed", "children": children}

    x_of_b = usage(["r", "w", "x"], "d", [])
    tree = EventTree()
    for event in [
        ModelEnd(path=["r"], agent="r", tool_calls=["task", "task"]),
        SubagentStart(path=["r", "w"], agent="w", tool_call_id="a", objective="A"),
        SubagentStart(path=["r", "w"], agent="w", tool_call_id="b", objective="B"),
        ModelEnd(path=["r", "w"], agent="w", tool_call_id="a", text="hello"),
        SubagentStart(path=["r", "w", "x"], agent="x", tool_call_id="d", objective="D"),
        SubagentEnd(path=["r", "w", "x"], agent="x", tool_call_id="d", status=Status.FAILED,
                    error="boom", usage=x_of_b),
        SubagentEnd(path=["r", "w"], agent="w", tool_call_id="b", status=Status.COMPLETED,
                    usage=usage(["r", "w"], "b", [x_of_b])),
    ]:
        tree.feed(event)
    assert tree.root is not None
    a, b = tree.root.children
    assert (a.objective, a.status, a.children, a.text) == ("A", "running", [], "hello")
    (x,) = b.children
    assert (b.status, x.agent, x.status, x.error, x.seconds) == (
        "completed", "x", "failed", "boom", 1.5)
    report = RunReport("q", tree.root)
    assert [n.agent for n in report.active()] == ["w"]
    rendered = str(delegation_tree(report).children[0].label)
    assert "hello" in rendered and "running" in rendered


@pytest.mark.parametrize(("args", "message"), [
    (["run", "missing.yaml", "q"], "error: missing.yaml: cannot read the team file"),
    (["run", "bad.yaml", "q"], "error: bad.yaml:3: agent 'dev': unknown tool 'gerp'"),
    (["graph", "bad.yaml"], "error: bad.yaml:3: agent 'dev': unknown tool 'gerp'"),
    (["run", "noteam", "q"], "TEAM must be a YAML file"),
    (["run", "nomodule_xyz:team", "q"], "cannot import the team module"),
    (["run", "bad.yaml", "q", "--root", "nowhere"], "tool root"),
])
def test_cli_errors_are_clean(project: Path, args: list[str], message: str) -> None:
    (project / "bad.yaml").write_text("agents:\n  - name: dev\n    tools: [gerp]\n")
    if "nowhere" in args:
        (project / "bad.yaml").write_text("agents:\n  - name: dev\n    tools: [grep]\n")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_cli_run_failure_is_an_error_line(project: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL",
                        ScriptedChatModel(steps={"dev": [RuntimeError("model exploded")]}))
    result = runner.invoke(app, ["run", str(EXAMPLE), "q"])
    assert result.exit_code == 1
    assert "the run failed: RuntimeError: model exploded" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_cli_ctrl_c_exits_130(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(*args: Any, **kwargs: Any) -> RunReport:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "run_team", interrupted)
    result = runner.invoke(app, ["run", str(EXAMPLE), "q"])
    assert result.exit_code == 130
    assert "Interrupted" in result.stderr


# -------------------------------------------------------------------------------- graph


def test_cli_graph_mermaid_and_dot(project: Path) -> None:
    result = runner.invoke(app, ["graph", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["graph TD", '    dev(["dev"])']
    assert "    dev --> explore\n    explore --> search\n" in result.stdout
    assert result.stderr == ""
    dot = runner.invoke(app, ["graph", str(EXAMPLE), "--format", "dot"])
    assert dot.exit_code == 0
    assert dot.stdout.startswith("digraph team {") and '"explore" -> "search";' in dot.stdout


def test_cli_graph_reports_cycles(project: Path) -> None:
    (project / "loop.yaml").write_text(
        "agents:\n  - name: a\n    subagents: [b]\n  - name: b\n    subagents: [a]\n")
    result = runner.invoke(app, ["graph", "loop.yaml"])
    assert result.exit_code == 0
    assert "%% cycle: a -> b -> a" in result.stdout
    assert "b -.->|cycle| a" in result.stdout
    assert "cycle: a -> b -> a (allowed" in result.stderr
    dot = runner.invoke(app, ["graph", "loop.yaml", "--format", "dot"])
    assert dot.exit_code == 0
    assert "// cycle: a -> b -> a" in dot.stdout
    assert '"b" -> "a" [style=dashed, label="cycle"];' in dot.stdout
    assert "cycle: a -> b -> a (allowed" in dot.stderr


async def test_invalid_and_duplicate_delegations_are_refused_lines() -> None:
    bad = call("task", agent="w", objective="work", context=5)
    first, dup = (call("task", agent="w", objective="work") for _ in range(2))
    model = ScriptedChatModel(steps={"root": [ai(bad, first, dup), ai("done")],
                                     "w": [ai("worked")]})
    report = await run_team(Agent(name="root", subagents=[Agent(name="w")]), "go", model=model)
    nodes = {(n.status, n.refused, n.error) for n in report.tree.children}
    assert nodes == {
        ("failed", True, "invalid arguments for w: 'context' must be a string"),
        ("completed", False, None),
        ("failed", True, f"not run: duplicate of call {first['id']} in this reply")}
    lines = sorted(line[4:] for line in tree_lines(report)[1:])
    assert lines[0].startswith('✓ w  "work"  completed  0.0 s · 1 model call · ')
    assert lines[1:] == [
        "✗ w  \"work\"  failed  refused  invalid arguments for w: 'context' must be a string",
        '✗ w  "work"  failed  refused  not run: duplicate of call '
        f"{first['id']} in this re…"]


def test_cli_version_names_the_package_and_langgraph() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"subagents {version('langgraph-subagents')} ")
    assert f"langgraph {version('langgraph')}" in result.output


def test_cli_model_help_lists_every_accepted_form() -> None:
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for form in ("'local'", "'local:0.5b'", "'openai:NAME'", "'python:package.module:attr'"):
        assert form in result.output
