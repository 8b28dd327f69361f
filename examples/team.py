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
from subagents.tools import builtin_tool, paths_exist

DEV_PROMPT = """\
You answer questions about the code base. You cannot read files yourself.
Make one call that copies the user's whole question, word for word, to the explore agent:
task(agent="explore", objective="Where is the request timeout set?")
Then answer in one or two sentences with the names, values, files and lines it found.
"""

EXPLORE_PROMPT = """\
You explore a code base with read-only tools. Start with a search of all files for a
name or two plain words from the task, for example: grep(pattern="timeout")
To find where a class or function is defined, search: grep(pattern="class Session")
To see a value or a body, read_file the path grep printed, with start_line its line number.
Answer by copying the tool lines that answer the task (path:LINE: text), then one sentence.
"""

SEARCH_PROMPT = """\
You find where a word appears in the code base. Search for one plain word from the
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
        answer_check=paths_exist(root),
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
