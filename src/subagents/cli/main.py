"""The ``subagents`` command line: ``run`` a team on a question, draw its ``graph``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from langchain_core.language_models import BaseChatModel
from rich.console import Console
from rich.markup import escape
from rich.status import Status as RichStatus

from subagents.checkpoints import async_sqlite_saver
from subagents.cli._load import load_team_ref
from subagents.cli.render import delegation_tree, status_text
from subagents.cli.runner import RunReport, run_team
from subagents.errors import SubagentsError
from subagents.spec import Agent
from subagents.teams import team_dot, team_graph_cycles, team_mermaid

__all__ = ["DEFAULT_MODEL", "EXIT_ERROR", "EXIT_INTERRUPTED", "app"]

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

TeamArg = Annotated[str, typer.Argument(
    help="A YAML team file, or 'module:attr' / 'file.py:attr' naming an Agent (or a "
    "function returning one).", show_default=False)]


class GraphFormat(StrEnum):
    """Output formats of ``subagents graph``."""

    MERMAID = "mermaid"
    DOT = "dot"


def _fail(err: Console, message: str, code: int = EXIT_ERROR) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _load(team: str, root: Path | None, err: Console) -> Agent:
    try:
        return load_team_ref(team, root=(root or Path.cwd()).resolve())
    except SubagentsError as exc:
        raise _fail(err, str(exc)) from None


@app.command()
def run(
    team: TeamArg,
    question: Annotated[str, typer.Argument(help="The question or task for the root agent.",
                                            show_default=False)],
    root: Annotated[Path | None, typer.Option(
        help="Folder the file tools may read (default: the current directory).",
        file_okay=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="Model for agents that name none: 'local', 'local:0.5b', 'openai:gpt-4o-mini' "
        "(default: $SUBAGENTS_MODEL, else the embedded local model).")] = None,
    db: Annotated[Path | None, typer.Option(
        help="SQLite file for checkpoints (a fresh thread id is printed).",
        dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only the final answer.")] = False,
) -> None:
    """Ask a team a question; show who is working, then the answer and the delegation tree."""
    out, err = Console(), Console(stderr=True)
    agent = _load(team, root, err)
    chosen: BaseChatModel | str | None = model if model is not None else DEFAULT_MODEL
    live: dict[str, RunReport] = {}
    try:
        report = asyncio.run(_run(agent, question, chosen, db, quiet, live, err))
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted: the run was stopped.[/]")
        if "report" in live and not quiet:
            out.print(delegation_tree(live["report"]))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except SubagentsError as exc:
        raise _fail(err, str(exc)) from None
    except Exception as exc:
        if os.environ.get("SUBAGENTS_DEBUG"):
            raise
        raise _fail(err, f"the run failed: {type(exc).__name__}: {exc} "
                    "(set SUBAGENTS_DEBUG=1 for a traceback)") from None
    if not quiet:
        out.print(delegation_tree(report))
        out.rule(style="dim")
    if quiet:
        typer.echo(report.answer or "")
    else:
        out.print(escape(report.answer or "(no answer)"), highlight=False)


async def _run(agent: Agent, question: str, model: BaseChatModel | str | None, db: Path | None,
               quiet: bool, live: dict[str, RunReport], err: Console) -> RunReport:
    show = not quiet and err.is_terminal
    status = RichStatus("starting...", console=err) if show else None

    def on_update(report: RunReport) -> None:
        live["report"] = report
        if status is not None:
            status.update(status_text(report))

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.5)
            if status is not None and "report" in live:
                status.update(status_text(live["report"]))

    async with _saver(db, err, quiet) as (saver, thread_id):
        ticker = asyncio.create_task(tick())
        if status is not None:
            status.start()
        try:
            return await run_team(agent, question, model=model, checkpointer=saver,
                                  thread_id=thread_id, on_update=on_update)
        finally:
            ticker.cancel()
            if status is not None:
                status.stop()


@contextlib.asynccontextmanager
async def _saver(db: Path | None, err: Console, quiet: bool) -> AsyncIterator[tuple[Any, Any]]:
    if db is None:
        yield None, None
        return
    thread_id = uuid.uuid4().hex
    if not quiet:
        err.print(f"thread id: [bold]{thread_id}[/] (checkpoints in {escape(str(db))})",
                  highlight=False)
    async with async_sqlite_saver(db) as saver:
        yield saver, thread_id


@app.command()
def graph(
    team: TeamArg,
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="Output format.", case_sensitive=False)] = GraphFormat.MERMAID,
    root: Annotated[Path | None, typer.Option(
        help="Folder the file tools would read (default: the current directory).",
        file_okay=False)] = None,
) -> None:
    """Print the delegation graph (allow lists); cycles are dashed and reported on stderr."""
    err = Console(stderr=True)
    agent = _load(team, root, err)
    render: Callable[[Agent], str] = team_dot if fmt is GraphFormat.DOT else team_mermaid
    sys.stdout.write(render(agent))
    for cycle in team_graph_cycles(agent):
        err.print(f"[yellow]cycle:[/] {escape(' -> '.join(cycle))} (allowed; bounded by "
                  "max_subagent_depth)", highlight=False)
