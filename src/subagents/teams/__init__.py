"""Teams: load agent trees from YAML files and draw their delegation graph.

Example:
    >>> from subagents.teams import load_team, team_mermaid
    >>> dev = load_team({"agents": [{"name": "dev", "subagents": ["dev"]}]})
    >>> print(team_mermaid(dev).splitlines()[1])
        %% cycle: dev -> dev
"""

from subagents.teams._file import AgentEntry, TeamFile, team_json_schema
from subagents.teams._located import MAX_DEPTH, MAX_NODES, MAX_TEAM_BYTES
from subagents.teams._schema import SchemaError, model_from_json_schema
from subagents.teams.drawing import team_dot, team_edges, team_graph_cycles, team_mermaid
from subagents.teams.loader import AGENT_FIELDS, load_team

__all__ = [
    "AGENT_FIELDS",
    "AgentEntry",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEAM_BYTES",
    "SchemaError",
    "TeamFile",
    "load_team",
    "model_from_json_schema",
    "team_dot",
    "team_edges",
    "team_graph_cycles",
    "team_json_schema",
    "team_mermaid",
]
