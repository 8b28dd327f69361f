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
from subagents.tools import all_checks, builtin_tool, grounded, paths_exist

DEV_PROMPT = """\
You answer questions about the code base. You cannot read files yourself, so always
ask the explore agent first, copying the user's whole question word for word, e.g.:
task(agent="explore", objective="Which constant sets the request timeout, and where is it used?")
Then answer every part of the question with the names, values and files it found.
"""

EXPLORE_PROMPT = (
    "You explore a code base with read-only tools. Search all files yourself first, with a\n"
    'name or two plain words from the task, for example: grep(pattern="timeout")\n'
    'For where a class is defined, grep "class " and its name; for where an error is raised, '
    'grep "raise " and its name; for where a constant is used, grep its name.\n'
    "To see a value or a body, read_file the path grep printed, with start_line its line "
    "number.\n"
    "Answer by copying the tool lines that answer the task (path:LINE: text), then one "
    "sentence that uses only names and values those lines show.\n"
)

SEARCH_PROMPT = """\
You find where something appears in the code base. Call grep with the task's own key
words as the pattern: grep shows the lines holding most of them first.
If nothing matches, try a shorter or related word, or list the files.
Reply by copying the matching path:LINE: text lines, then one sentence.
"""


def build_team(root: str | Path = ".") -> Agent:
    """Build the dev -> explore -> search team; file tools are confined to ``root``."""
    search = Agent(
        name="search",
        description="Only when your own grep found nothing, searches for one other word.",
        system_prompt=SEARCH_PROMPT,
        tools=[builtin_tool("grep", root), builtin_tool("list_files", root)],
        max_steps=3,
    )
    explore = Agent(
        name="explore",
        description="Explores the code base and reports files, lines and values; give it the "
        "user's whole question, word for word.",
        system_prompt=EXPLORE_PROMPT,
        tools=[builtin_tool(name, root) for name in ("list_files", "read_file", "grep")],
        subagents=[search],
        max_steps=4,
        delegation_context=False,
        answer_check=all_checks(paths_exist(root), grounded()),
    )
    return Agent(
        name="dev",
        description="Answers questions about the code base.",
        system_prompt=DEV_PROMPT,
        subagents=[explore],
        max_steps=3,
        answer_check=grounded(),
        max_subagent_depth=2,
        delegation="task",
        delegation_context=False,
    )
