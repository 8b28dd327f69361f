"""Rich rendering of a run: the status line and the delegation tree."""

from __future__ import annotations

from collections import Counter

from rich.markup import escape
from rich.tree import Tree

from subagents.cli.runner import DelegationNode, RunReport

__all__ = ["delegation_tree", "shorten", "status_text"]

_STYLES = {"completed": "green", "max_steps": "yellow", "running": "cyan",
           "cancelled": "magenta"}


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


def _label(node: DelegationNode, width: int) -> str:
    style = _STYLES.get(node.status, "red")
    parts = [f"[bold]{escape(node.agent)}[/]", f'"{escape(shorten(node.objective, width))}"']
    parts.append(f"[{style}]{escape(node.status)}[/]")
    calls = "call" if node.model_calls == 1 else "calls"
    parts.append(f"[dim]{node.seconds:.1f} s · {node.model_calls} model {calls} · "
                 f"{node.tokens:,} tokens[/]")
    if node.error and node.status != "completed":
        parts.append(f"[red]{escape(shorten(node.error, width))}[/]")
    return "  ".join(parts)


def delegation_tree(report: RunReport, *, width: int = 40) -> Tree:
    """The delegation tree as a rich ``Tree``.

    Each line: agent, objective (shortened to ``width`` characters), status, seconds,
    model calls and tokens (input + output), and the error when it did not complete.
    """
    tree = Tree(_label(report.tree, width), guide_style="dim")

    def add(branch: Tree, node: DelegationNode) -> None:
        for child in node.children:
            add(branch.add(_label(child, width)), child)

    add(tree, report.tree)
    return tree
