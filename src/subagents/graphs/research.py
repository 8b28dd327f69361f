"""Exported graph ``research``: background sub-agents awaited together, then a critic.

``lead`` starts one background ``researcher`` per topic, awaits them (``agent_await``), has
the ``critic`` review the findings (a sync delegation) and answers. The critic can ask a
human (``ask_human`` raises a LangGraph ``interrupt``). Compiled without a checkpointer.
"""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.language_models import BaseChatModel

from subagents.graphs._lazy import graph_model, lazy_graph, served
from subagents.graphs.compile import compile_agent
from subagents.spec import Agent
from subagents.spec.background import BackgroundConfig
from subagents.testing.demo import research_model
from subagents.tools.demo import ask_human, slow_lookup

__all__ = ["build_graph", "build_team", "make_graph", "served_graph"]  # and the lazy `graph`


def build_team() -> Agent:
    """The lead -> researcher (background), critic team."""
    researcher = Agent(name="researcher", description="Researches one topic.",
                       system_prompt="Research the topic with slow_lookup; report facts.",
                       tools=[slow_lookup], max_steps=4)
    critic = Agent(name="critic", description="Reviews findings.",
                   system_prompt="Review the findings in one sentence; ask a human if unsure.",
                   tools=[ask_human], max_steps=3)
    return Agent(name="lead", description="Plans research and reports.",
                 system_prompt="Start one background researcher per topic, await them all, "
                 "have the critic review, then report.",
                 subagents=[researcher, critic], background=BackgroundConfig(timeout=300),
                 max_steps=6)


def build_graph(model: BaseChatModel | str | None = None) -> Any:
    """Compile the research team (no checkpointer: the server brings one)."""
    return compile_agent(build_team(), model=model)


@functools.cache
def make_graph() -> Any:
    """The exported graph, built once, on first use (the model: see ``graphs._lazy``)."""
    return build_graph(model=graph_model("research", research_model))


served_graph = served(make_graph)
"""The async factory ``langgraph.json`` points to: ``make_graph()`` built off the event loop."""

__getattr__ = lazy_graph(globals(), make_graph)
"""``graph``: the same graph as ``make_graph()``, for ``from ... import graph``."""
