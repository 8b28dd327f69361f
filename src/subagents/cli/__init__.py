"""The ``subagents`` command line (typer + rich) and the run loop it uses.

``app`` is the console script; ``run_team`` runs a team once and returns a ``RunReport``
(answer + delegation tree), usable from tests with a ``ScriptedChatModel``.
"""

from subagents.cli._load import load_team_ref
from subagents.cli.main import app
from subagents.cli.render import delegation_tree, status_text
from subagents.cli.runner import DelegationNode, RunReport, run_team

__all__ = [
    "DelegationNode",
    "RunReport",
    "app",
    "delegation_tree",
    "load_team_ref",
    "run_team",
    "status_text",
]
