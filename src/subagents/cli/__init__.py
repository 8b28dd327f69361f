"""The ``subagents`` command line (typer + rich) and the run loop it uses.

``app`` is the console script; ``run_team`` runs a team once and returns a ``RunReport``
(answer + delegation tree, built from the run's events), usable from tests with a
``ScriptedChatModel``; ``replay_report`` rebuilds one from an ``EventLog``.
"""

from subagents.cli._load import load_team_ref
from subagents.cli.main import app
from subagents.cli.render import (
    delegation_tree,
    print_tree,
    status_text,
    tree_text,
    usage_table,
    usage_totals,
)
from subagents.cli.runner import run_team
from subagents.cli.tree import DelegationNode, EventTree, RunReport, replay_report

__all__ = [
    "DelegationNode",
    "EventTree",
    "RunReport",
    "app",
    "delegation_tree",
    "load_team_ref",
    "print_tree",
    "replay_report",
    "run_team",
    "status_text",
    "tree_text",
    "usage_table",
    "usage_totals",
]
