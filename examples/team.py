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

from subagents import Agent, FirstCall
from subagents.tools import all_checks, builtin_tool, grounded, paths_exist

DEV_PROMPT = """\
You answer questions about the code base. You cannot read files yourself, so always
ask the explore agent first, copying the user's whole question word for word, e.g.:
task(agent="explore", objective="Which constant sets the request timeout, and where is it used?")
Then answer every part of the question with the names, values and files it found.
"""

EXPLORE_PROMPT = (
    "You explore a code base with read-only tools. Your task was already searched with find: "
    "its result is above, best match first, with definitions as path:LINE: code, their "
    "docstrings, a class's fields, and the lines where each is used or raised.\n"
    "If those rows do not answer every part of the task, call find with a name they show, or "
    "read_file a path at its line.\n"
    "Answer by copying the rows that answer the task (the Best match line, path:LINE: text, "
    'and the "raised at" or "used at" lines it asks about), then one sentence that uses only '
    "names, values and files those rows show.\n"
)


def build_team(root: str | Path = ".") -> Agent:
    """Build the dev -> explore team; file tools are confined to ``root``.

    ``explore``'s first step is ``find`` with the whole task, made by the runtime
    (``first_call``), so the model starts from its result.
    """
    explore = Agent(
        name="explore",
        description="Explores the code base and reports files, lines and values; give it the "
        "user's whole question, word for word.",
        system_prompt=EXPLORE_PROMPT,
        tools=[builtin_tool(name, root) for name in ("find", "read_file")],
        first_call=FirstCall(tool="find", args={"query": "{task}"}),
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
