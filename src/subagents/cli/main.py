"""The ``subagents`` command line: ``run`` a team, ``replay`` a logged run, draw a ``graph``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import typer
from langchain_core.language_models import BaseChatModel
from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from subagents.checkpoints import async_sqlite_saver
from subagents.checkpoints.events_log import EventLog
from subagents.cli._load import load_team_ref
from subagents.cli.render import delegation_tree, usage_table
from subagents.cli.runner import RunReport, replay_report, run_team
from subagents.errors import SubagentsError
from subagents.events import BaseEvent
from subagents.spec import Agent
from subagents.teams import team_dot, team_graph_cycles, team_json_schema, team_mermaid

__all__ = ["DEFAULT_MODEL", "EXIT_ERROR", "EXIT_INTERRUPTED", "Detail", "GraphFormat", "app",
           "graph", "main", "replay", "run", "schema"]

DEFAULT_MODEL: BaseChatModel | None = None
"""Model used when ``--model`` is not given (None: normal resolution). A test hook: set it to
a ``ScriptedChatModel`` to run the CLI without any network or local model."""

EXIT_ERROR = 1
"""Exit code of an invalid team, an unusable model or a failed run."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT)."""

app = typer.Typer(
    name="subagents",
    help="Run sub-agent teams (YAML files or Python Agents) and draw their delegation graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_TeamArg = Annotated[str, typer.Argument(
    help="A YAML team file, or 'module:attr' / 'file.py:attr' naming an Agent (or a "
    "function returning one).", show_default=False)]
_UntrustedOpt = Annotated[bool, typer.Option(
    "--untrusted", help="The team comes from an untrusted source: accept only a YAML file "
    "and refuse its 'python:' models (nothing it names is imported) and its 'remote:' "
    "agents.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"subagents {package_version('langgraph-subagents')} (langgraph "
                   f"{package_version('langgraph')}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the versions of subagents, langgraph and Python, and exit.")] = False,
) -> None:
    """Run sub-agent teams (YAML files or Python Agents) and draw their delegation graph."""


class GraphFormat(StrEnum):
    """Output formats of ``subagents graph``."""

    MERMAID = "mermaid"
    DOT = "dot"


def _fail(err: Console, message: str, code: int = EXIT_ERROR) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _load(team: str, root: Path | None, err: Console, untrusted: bool = False) -> Agent:
    try:
        return load_team_ref(team, root=(root or Path.cwd()).resolve(), trusted=not untrusted)
    except SubagentsError as exc:
        raise _fail(err, str(exc)) from None


class Detail(StrEnum):
    """Event detail of the live view of ``subagents run``."""

    SUMMARY = "summary"
    ALL = "all"


@app.command()
def run(
    team: _TeamArg,
    question: Annotated[str, typer.Argument(help="The question or task for the root agent.",
                                            show_default=False)],
    root: Annotated[Path | None, typer.Option(
        help="Folder the file tools may read (default: the current directory).",
        file_okay=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="Model for agents that name none: 'local' (the embedded 1.5B), 'local:1.5b', "
        "'local:0.5b', 'openai:NAME' or a bare NAME (any OpenAI-compatible endpoint: "
        "OPENAI_BASE_URL, OPENAI_API_KEY), 'python:package.module:attr' (a BaseChatModel or "
        "a function returning one). Default: $SUBAGENTS_MODEL, else 'local'.")] = None,
    db: Annotated[Path | None, typer.Option(
        help="SQLite file for checkpoints and the event log (the run id is printed; see "
        "'subagents replay').", dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only the final answer.")] = False,
    detail: Annotated[Detail, typer.Option(
        help="Live view detail: 'summary' shows sub-agents' starts and ends only, 'all' also "
        "their model calls and streaming text.", case_sensitive=False)] = Detail.SUMMARY,
    untrusted: _UntrustedOpt = False,
) -> None:
    """Ask a team a question: a live delegation tree, then the usage table and the answer.

    The live tree is shown only when stdout is a terminal. Exits 1 after the answer when the
    event log (``--db``) could not write some events.
    """
    out, err = Console(), Console(stderr=True)
    agent = _load(team, root, err, untrusted)
    chosen: BaseChatModel | str | None = model if model is not None else DEFAULT_MODEL
    live: dict[str, RunReport] = {}
    show = not quiet and out.is_terminal
    log_errors: list[str] = []
    finished = False
    try:
        report = asyncio.run(_run(agent, question, chosen, db, detail, live,
                                  out if show else None, err, quiet, log_errors))
        finished = True
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted: the run was stopped.[/]")
        if "report" in live and not quiet:
            out.print(usage_table(live["report"].tree))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except SubagentsError as exc:
        raise _fail(err, str(exc)) from None
    except Exception as exc:
        if os.environ.get("SUBAGENTS_DEBUG"):
            raise
        raise _fail(err, f"the run failed: {type(exc).__name__}: {exc} "
                    "(set SUBAGENTS_DEBUG=1 for a traceback)") from None
    finally:
        if not finished and log_errors:  # the run's own error comes first; this one too
            err.print(f"[bold red]error:[/] {escape(log_errors[0])}", highlight=False)
    if quiet:
        typer.echo(report.answer or "")
    else:
        out.print(usage_table(report.tree))
        out.rule(style="dim")
        out.print(escape(report.answer or "(no answer)"), highlight=False)
    if log_errors:
        raise _fail(err, log_errors[0])


async def _run(agent: Agent, question: str, model: BaseChatModel | str | None, db: Path | None,
               detail: Detail, live: dict[str, RunReport], screen: Console | None,
               err: Console, quiet: bool, log_errors: list[str]) -> RunReport:
    """Run the team; with ``screen`` (a terminal), redraw the delegation tree live on it."""
    def on_update(report: RunReport) -> None:
        live["report"] = report

    def current() -> RenderableType:
        if "report" in live:
            return delegation_tree(live["report"])
        return Text(f"{agent.name} is starting...", style="dim")

    display = None if screen is None else Live(
        console=screen, get_renderable=current, refresh_per_second=8, transient=False)
    async with _storage(db, err, quiet, log_errors) as (saver, thread_id, sink):
        if display is not None:
            display.start()
        try:
            return await run_team(agent, question, model=model, checkpointer=saver,
                                  thread_id=thread_id, on_update=on_update, on_event=sink,
                                  detail="all" if detail is Detail.ALL else "summary")
        except BaseException as exc:
            if isinstance(getattr(exc, "report", None), RunReport):
                live["report"] = exc.report  # type: ignore[attr-defined]
            raise
        finally:
            if display is not None:
                display.stop()


@contextlib.asynccontextmanager
async def _storage(db: Path | None, err: Console, quiet: bool, log_errors: list[str]
                   ) -> AsyncIterator[tuple[Any, str | None, Callable[[BaseEvent], Any] | None]]:
    """``(checkpointer, run id, event sink)``: all None without ``--db``.

    Events the log could not write are reported on ``err`` and added to ``log_errors``.
    """
    if db is None:
        yield None, None, None
        return
    run_id = uuid.uuid4().hex
    if not quiet:
        err.print(f"run id: [bold]{run_id}[/] (checkpoint thread and event log in "
                  f"{escape(str(db))}; replay: subagents replay {run_id} --db "
                  f"{escape(str(db))})", highlight=False)
    async with async_sqlite_saver(db) as saver:
        log = EventLog(db)
        try:
            yield saver, run_id, log.sink(run_id)
        finally:
            log.close()
            if log.lost:
                log_errors.append(f"the event log in {db} lost {log.lost} event(s) of run "
                                  f"{run_id} (replay may be incomplete): "
                                  + "; ".join(log.errors))


@app.command()
def replay(
    db: Annotated[Path, typer.Option(help="The SQLite file a 'run --db' logged to.",
                                     dir_okay=False, show_default=False)],
    run_id: Annotated[str | None, typer.Argument(
        help="The run id 'run --db' printed (none: list the logged runs).",
        show_default=False)] = None,
) -> None:
    """Redraw a logged run: its delegation tree and usage table, then its answer."""
    out, err = Console(), Console(stderr=True)
    if not db.is_file():
        raise _fail(err, f"{db}: no such database file")
    try:
        log = EventLog(db)
    except sqlite3.Error as exc:
        raise _fail(err, f"{db}: cannot read the event log ({exc})") from None
    try:
        runs = log.runs()
        events = log.events(run_id) if run_id in runs else []
    finally:
        log.close()
    if run_id is None:
        for known in runs:
            typer.echo(known)
        return
    if not events:
        known = ", ".join(runs) if runs else "none"
        raise _fail(err, f"unknown run id {run_id!r} in {db}; known run ids: {known}")
    report = replay_report(events)
    out.print(delegation_tree(report))
    out.print(usage_table(report.tree))
    out.rule(style="dim")
    out.print(escape(report.answer or "(no answer logged)"), highlight=False)


@app.command()
def graph(
    team: _TeamArg,
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="Output format.", case_sensitive=False)] = GraphFormat.MERMAID,
    root: Annotated[Path | None, typer.Option(
        help="Folder the file tools would read (default: the current directory).",
        file_okay=False)] = None,
    untrusted: _UntrustedOpt = False,
) -> None:
    """Print the delegation graph (allow lists); cycles are dashed and reported on stderr."""
    err = Console(stderr=True)
    agent = _load(team, root, err, untrusted)
    render: Callable[[Agent], str] = team_dot if fmt is GraphFormat.DOT else team_mermaid
    sys.stdout.write(render(agent))
    for cycle in team_graph_cycles(agent):
        err.print(f"[yellow]cycle:[/] {escape(' -> '.join(cycle))} (allowed; bounded by "
                  "max_subagent_depth)", highlight=False)


@app.command()
def schema() -> None:
    """Print the team file's JSON Schema (draft 2020-12), for editors and validators."""
    sys.stdout.write(json.dumps(team_json_schema(), indent=2) + "\n")
