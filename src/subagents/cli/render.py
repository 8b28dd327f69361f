"""Rich rendering of a run: the status line, the (live) delegation tree, the usage table."""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from subagents.cli.runner import DelegationNode, RunReport
from subagents.cli.tree import replay_report
from subagents.events import BaseEvent

__all__ = ["UsageRow", "delegation_tree", "print_tree", "shorten", "status_symbol", "status_text",
           "tree_text", "usage_rows", "usage_table", "usage_totals"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_DONE = ("✓", "green")
_FAILED = ("✗", "red")
_LATE = ("⏱", "yellow")
_STOPPED = ("⊘", "magenta")
_SYMBOLS = {
    "completed": _DONE, "failed": _FAILED, "max_steps": _LATE, "timeout": _LATE,
    "over_budget": _LATE, "cancelled": _STOPPED, "unknown_agent": _STOPPED,
    "forbidden_tool": _STOPPED, "depth_exceeded": _STOPPED, "interrupted": ("⏸", "yellow"),
}


def shorten(text: str, width: int = 60) -> str:
    """One line of at most ``width`` characters (whitespace collapsed, ``…`` when cut)."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: max(width - 1, 0)].rstrip() + "…"


def status_text(report: RunReport) -> str:
    """The status line: ``explore is working... (3 s)``.

    Several agents at once: ``search x2, explore are working... (5 s)``, the time being the
    longest-running of them (whole seconds).
    """
    active = report.active() or [report.tree]
    counts = Counter(n.agent for n in active)
    names = ", ".join(name if k == 1 else f"{name} x{k}" for name, k in counts.items())
    verb = "is" if len(active) == 1 else "are"
    seconds = max(n.seconds for n in active)
    return f"{names} {verb} working... ({seconds:.0f} s)"


def status_symbol(status: str) -> tuple[str, str]:
    """``(symbol, style)`` of a status: a spinner frame while running, ✓ ✗ ⏱ ⊘ after."""
    if status == "running":
        return _SPINNER[int(time.monotonic() * 10) % len(_SPINNER)], "cyan"
    return _SYMBOLS.get(status, _FAILED)


def _label(node: DelegationNode, width: int) -> str:
    symbol, style = status_symbol(node.status)
    parts = [f"[{style}]{symbol}[/] [bold]{escape(node.agent)}[/]"]
    if node.objective:
        parts.append(f'"{escape(shorten(node.objective, width))}"')
    parts.append(f"[{style}]{escape(node.status)}[/]")
    if node.refused:  # nothing ran: no time, calls or tokens to show
        parts.append("[dim]refused[/]")
    else:
        calls = "call" if node.model_calls == 1 else "calls"
        parts.append(f"[dim]{node.seconds:.1f} s · {node.model_calls} model {calls} · "
                     f"{node.tokens:,} tokens[/]")
        if node.attempts > 1:
            parts.append(f"[yellow]{node.attempts} attempts[/]")
    if node.error and node.status != "completed":
        parts.append(f"[red]{escape(shorten(node.error, width))}[/]")
    elif node.status == "running" and node.text:
        parts.append(f"[italic]» {escape(' '.join(node.text.split()))}[/]")
    return "  ".join(parts)


def delegation_tree(report: RunReport, *, width: int = 40) -> Tree:
    """The delegation tree as a rich ``Tree`` (the live view re-renders it while running).

    Each line is one agent invocation, indented by depth: status symbol (a spinner while
    running, ✓ completed, ✗ failed, ⏱ max_steps/timeout/over_budget, ⊘ cancelled or refused),
    agent, objective (shortened to ``width`` characters), status, seconds, model calls and
    tokens; then the error when it did not complete, or, while it runs, the tail of what it
    is saying. A delegation the runtime refused is one line too, ``refused`` in place of
    the counts: ``⊘ ghost "find x"  unknown_agent  refused  'ghost' is not a sub-agent ...``
    (a refusal with status ``failed``, e.g. one the loop guard refused, shows ✗).
    """
    tree = Tree(_label(report.tree, width), guide_style="dim")

    def add(branch: Tree, node: DelegationNode) -> None:
        for child in list(node.children):
            add(branch.add(_label(child, width)), child)

    add(tree, report.tree)
    return tree


@dataclass(frozen=True)
class UsageRow:
    """One line of the usage table: one agent invocation (or the totals)."""

    agent: str
    status: str
    model_calls: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    seconds: float
    cost: float | None = None
    """US dollars of its model calls; None when one had no known price."""


def usage_rows(tree: DelegationNode) -> list[UsageRow]:
    """One row per invocation, depth first; ``agent`` is the path (``dev/explore``)."""
    return [UsageRow("/".join(n.path), n.status, n.model_calls, n.input_tokens,
                     n.output_tokens, n.tool_calls, n.seconds, n.cost) for n in tree.walk()]


def usage_totals(tree: DelegationNode) -> UsageRow:
    """The totals row: counts summed over every invocation; seconds: the root's wall time.

    ``cost`` is the sum of the rows', None when one of them is unknown.
    """
    rows = usage_rows(tree)
    costs = [r.cost for r in rows]
    cost = None if None in costs else sum(c for c in costs if c is not None)
    return UsageRow("total", tree.status, sum(r.model_calls for r in rows),
                    sum(r.input_tokens for r in rows), sum(r.output_tokens for r in rows),
                    sum(r.tool_calls for r in rows), tree.seconds, cost)


def usage_table(tree: DelegationNode) -> Table:
    """The usage table of a run's tree, with a totals row (``usage_totals``).

    Columns: agent path, status, model calls, input/output tokens, tool calls, seconds, and
    ``cost $`` (US dollars, ``?`` where unknown) when a row's model calls cost something: a
    run on free models (the local llama.cpp server costs 0) has no cost column.
    """
    table = Table(title="usage", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("agent", no_wrap=True)
    table.add_column("status", no_wrap=True)
    priced = any(r.cost and r.model_calls for r in usage_rows(tree))
    names = ("model calls", "input tokens", "output tokens", "tool calls", "seconds")
    for name in (*names, "cost $") if priced else names:
        table.add_column(name, justify="right")

    def cells(row: UsageRow) -> list[str]:
        out = [f"{row.model_calls:,}", f"{row.input_tokens:,}", f"{row.output_tokens:,}",
               f"{row.tool_calls:,}", f"{row.seconds:.1f}"]
        if priced:
            out.append("?" if row.cost is None else f"{row.cost:,.6f}")
        return out

    for row in usage_rows(tree):
        symbol, style = status_symbol(row.status)
        table.add_row(escape(row.agent), f"[{style}]{symbol} {escape(row.status)}[/]",
                      *cells(row))
    total = usage_totals(tree)
    table.add_section()
    table.add_row("[bold]total[/]", "", *(f"[bold]{c}[/]" for c in cells(total)))
    return table


def print_tree(events: Iterable[BaseEvent], *, console: Console | None = None,
               usage: bool = True) -> None:
    """Print the delegation tree of a run's events, as ``subagents run`` draws it at the end.

    Args:
        events: the run's events in order (a list, ``EventLog.events(run_id)``, or what
            ``stream_events`` yielded; events other than agents' own are ignored).
        console: where to print (default: a rich ``Console`` on stdout).
        usage: also print the usage table.

    Raises:
        ValueError: no agent event in ``events``.
    """
    report = replay_report(events)
    out = console or Console()
    out.print(delegation_tree(report))
    if usage:
        out.print(usage_table(report.tree))


def tree_text(events: Iterable[BaseEvent], *, width: int = 100, usage: bool = False) -> str:
    """:func:`print_tree` as plain text (no colours), ``width`` characters wide."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    print_tree(events, console=console, usage=usage)
    return buffer.getvalue()
