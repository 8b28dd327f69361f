"""The CLI (typer CliRunner) and the run loop behind it, with scripted models only."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from typer.testing import CliRunner

from subagents import Agent, Status
from subagents.cli import RunReport, app, delegation_tree, run_team, status_text
from subagents.cli import main as cli_main
from subagents.teams import load_team
from subagents.testing import ScriptedChatModel, ai, call

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "codebase_explorer.yaml"
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


async def test_per_agent_tools_and_refused_calls_appear_in_the_tree() -> None:
    model = ScriptedChatModel(steps={
        "root": [ai(call("task_a", objective="x"), call("look", q="1")), ai("ok")],
        "a": [ai(call("task", agent="ghost", objective="boo")), ai("a done")],
    })
    a = Agent(name="a", subagents=[Agent(name="b")])
    root = Agent(name="root", subagents=[a], delegation="per_agent", max_subagent_depth=2)
    report = await run_team(root, "go", model=model)
    (node_a,) = report.tree.children
    assert (node_a.agent, node_a.status) == ("a", "completed")
    (ghost,) = node_a.children
    assert (ghost.agent, ghost.status) == ("ghost", Status.UNKNOWN_AGENT.value)
    assert "ghost" in str(delegation_tree(report).children[0].children[0].label)


async def test_cancelling_a_run_marks_open_nodes_cancelled() -> None:
    model = ScriptedChatModel(latency=5, steps={"root": [ai("never")]})
    task = asyncio.create_task(run_team(Agent(name="root"), "go", model=model))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    report: RunReport = info.value.report  # type: ignore[attr-defined]
    assert report.cancelled and report.tree.status == "cancelled"


# ---------------------------------------------------------------------------------- run


def test_cli_run_prints_answer_and_tree(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = explorer_script()
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", model)
    result = runner.invoke(app, ["run", str(EXAMPLE), "Where is the timeout?"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.rstrip().endswith("TIMEOUT is set in app.py line 1.")
    lines = out.splitlines()
    assert lines[0].startswith('dev  "Where is the timeout?"  completed')
    assert any(line.startswith("└── explore") and "completed" in line for line in lines)
    assert any("└── search" in line and '"who reads TIMEOUT"' in line for line in lines)
    assert "3 model calls" in out
    model.assert_complete()


def test_cli_run_quiet_prints_only_the_answer(project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "DEFAULT_MODEL", explorer_script())
    result = runner.invoke(app, ["run", str(EXAMPLE), "Where?", "--quiet", "--root", "."])
    assert result.exit_code == 0, result.output
    assert result.stdout == "TIMEOUT is set in app.py line 1.\n"


def test_cli_run_python_team_with_db(project: Path) -> None:
    (project / "scripted_team.py").write_text(textwrap.dedent("""
        from subagents import Agent
        from subagents.testing import ScriptedChatModel, ai, call

        model = ScriptedChatModel(steps={
            "lead": [ai(call("task", agent="helper", objective="help")), ai("lead says hi")],
            "helper": [ai("helped")],
        })

        def build(root):
            assert root.is_dir()
            return Agent(name="lead", model=model, subagents=[Agent(name="helper")])
        """))
    db = project / "runs" / "state.db"
    result = runner.invoke(app, ["run", "scripted_team.py:build", "hi", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "lead says hi" in result.stdout
    assert "helper" in result.stdout
    assert "thread id: " in result.stderr and db.exists()


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
