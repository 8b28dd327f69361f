"""The delegation graph of a team (allow lists): cycles, Mermaid and Graphviz DOT text."""

from __future__ import annotations

import json
import re

from subagents.spec import Agent, iter_agents

__all__ = ["MAX_CYCLES", "team_dot", "team_edges", "team_graph_cycles", "team_mermaid"]

MAX_CYCLES = 100
"""At most this many cycles are reported (teams are small; this bounds pathological ones)."""

_MERMAID_WORDS = frozenset({"end", "graph", "subgraph", "style", "class", "classDef", "click",
                            "flowchart", "linkStyle", "default", "direction"})
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def team_edges(team: Agent) -> list[tuple[str, str, bool]]:
    """Every allow-list edge of the team, depth first from the root.

    Returns:
        ``(parent, child, closes_cycle)`` triples, each edge once; ``closes_cycle`` is True
        for entries naming the agent itself or an ancestor (the string entries of the spec).
    """
    edges: list[tuple[str, str, bool]] = []
    seen: set[tuple[str, str]] = set()
    for agent in iter_agents(team):
        for ref in agent.subagents:
            child = ref if isinstance(ref, str) else ref.name
            if (agent.name, child) not in seen:
                seen.add((agent.name, child))
                edges.append((agent.name, child, isinstance(ref, str)))
    return edges


def team_graph_cycles(team: Agent) -> list[list[str]]:
    """The elementary cycles of the delegation graph.

    Args:
        team: the root agent (e.g. from ``load_team``).

    Returns:
        Closed paths, each starting and ending at the agent met first from the root:
        ``[["dev", "explore", "dev"], ["search", "search"]]`` (a self-delegation is
        ``[name, name]``); empty when the graph is acyclic. At most ``MAX_CYCLES``.
    """
    order = [a.name for a in iter_agents(team)]
    rank = {name: i for i, name in enumerate(order)}
    succ: dict[str, list[str]] = {name: [] for name in order}
    for parent, child, _ in team_edges(team):
        succ[parent].append(child)
    cycles: list[list[str]] = []
    for start in order:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack and len(cycles) < MAX_CYCLES:
            node, path = stack.pop()
            for nxt in reversed(succ[node]):
                if nxt == start:
                    cycles.append([*path, start])
                elif rank[nxt] > rank[start] and nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return sorted(cycles[:MAX_CYCLES], key=lambda c: ([rank[n] for n in c], len(c)))


def _label(agent: Agent, sep: str) -> str:
    if not agent.tools:
        return agent.name
    return f"{agent.name}{sep}tools: {', '.join(t.name for t in agent.tools)}"


def team_mermaid(team: Agent) -> str:
    """The delegation graph as Mermaid ``graph TD`` text.

    The root is drawn as a stadium, other agents as boxes labelled with their tools;
    edges that close a cycle are dashed and labelled ``cycle`` (``self`` for
    self-delegation), and every cycle is listed as a ``%% cycle: a -> b -> a`` comment.
    """
    agents = list(iter_agents(team))
    ids = {a.name: (a.name if _ID.fullmatch(a.name) and a.name not in _MERMAID_WORDS
                    else f"agent_{i}") for i, a in enumerate(agents)}
    lines = ["graph TD"]
    lines += [f"    %% cycle: {' -> '.join(c)}" for c in team_graph_cycles(team)]
    for agent in agents:
        text = json.dumps(_label(agent, "<br/>"))[1:-1].replace("&quot;", "#quot;")
        shape = f'(["{text}"])' if agent is team else f'["{text}"]'
        lines.append(f"    {ids[agent.name]}{shape}")
    for parent, child, back in team_edges(team):
        arrow = f"-.->|{'self' if parent == child else 'cycle'}|" if back else "-->"
        lines.append(f"    {ids[parent]} {arrow} {ids[child]}")
    return "\n".join(lines) + "\n"


def team_dot(team: Agent) -> str:
    """The delegation graph as Graphviz DOT text (``digraph team``).

    The root has a double border; edges that close a cycle are dashed and labelled, and
    every cycle is listed as a ``// cycle: a -> b -> a`` comment.
    """
    lines = ["digraph team {", "    rankdir=TB;", "    node [shape=box];"]
    lines += [f"    // cycle: {' -> '.join(c)}" for c in team_graph_cycles(team)]
    for agent in iter_agents(team):
        extra = ", peripheries=2" if agent is team else ""
        lines.append(f"    {json.dumps(agent.name)} [label={json.dumps(_label(agent, chr(10)))}"
                     f"{extra}];")
    for parent, child, back in team_edges(team):
        style = f' [style=dashed, label="{"self" if parent == child else "cycle"}"]' if back else ""
        lines.append(f"    {json.dumps(parent)} -> {json.dumps(child)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
