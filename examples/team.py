"""The codebase explorer team of ``codebase_explorer.yaml``, written in Python.

Run it with the CLI (``build_team`` is called with ``--root``)::

    subagents run examples/team.py:build_team "Where is the request timeout set?" --root .

or from Python::

    import asyncio
    from subagents import compile_agent
    from langchain_core.messages import HumanMessage

    graph = compile_agent(build_team("."))  # model: $SUBAGENTS_MODEL or the local 1.5B
    print(asyncio.run(graph.ainvoke({"messages": [HumanMessage("Where is X set?")]})))
"""

from __future__ import annotations

from pathlib import Path

from subagents import Agent
from subagents.tools import builtin_tool

DEV_PROMPT = """\
You answer questions about the code base. You cannot read files yourself.
Send the user's question, copied word for word, to the explore agent:
task(agent="explore", objective="<the user's question>")
Then answer in a few sentences and name the files and line numbers it found.
"""

EXPLORE_PROMPT = """\
You explore a code base with read-only tools. Start with a keyword search for one
literal word from the task, for example: grep(pattern="timeout")
Then read the best matching file around those lines with read_file.
You may give a narrow side search to the search agent.
Answer with file paths, line numbers and a short explanation.
"""

SEARCH_PROMPT = """\
You find where a word appears in the code base. Search for one literal word from the
task, for example: grep(pattern="timeout")
If nothing matches, try a shorter or related word, or list the files.
Reply with the matching path:line lines and one sentence.
"""


def build_team(root: str | Path = ".") -> Agent:
    """Build the dev -> explore -> search team; file tools are confined to ``root``."""
    search = Agent(
        name="search",
        description="Finds the files and lines where one word appears.",
        system_prompt=SEARCH_PROMPT,
        tools=[builtin_tool("grep", root), builtin_tool("list_files", root)],
        max_steps=3,
    )
    explore = Agent(
        name="explore",
        description="Explores the code base with read-only tools and reports files, lines "
        "and findings.",
        system_prompt=EXPLORE_PROMPT,
        tools=[builtin_tool(name, root) for name in ("list_files", "read_file", "grep")],
        subagents=[search],
        max_steps=4,
        delegation_context=False,
    )
    return Agent(
        name="dev",
        description="Answers questions about the code base.",
        system_prompt=DEV_PROMPT,
        subagents=[explore],
        max_steps=3,
        max_subagent_depth=2,
        delegation="task",
        delegation_context=False,
    )
