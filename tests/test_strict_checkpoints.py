"""Checkpoints hold only types LangGraph's strict serializer allows
(``LANGGRAPH_STRICT_MSGPACK=true``): structured outputs and pipeline results come back typed.

The flag is read when LangGraph is imported, so the check runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = '''
from typing_extensions import TypedDict
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.checkpoint.serde._msgpack import STRICT_MSGPACK_ENABLED
from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener
from langgraph.graph import START, StateGraph
from pydantic import BaseModel
from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.checkpoints import memory_saver
from subagents.graphs import delegate_node
from subagents.testing import ScriptedChatModel, ai, call

assert STRICT_MSGPACK_ENABLED
events = []
register_serde_event_listener(events.append)

class Note(BaseModel):
    text: str

class Verdict(BaseModel):
    ok: bool
    notes: list[Note]

def policy(messages, agent):
    if any(isinstance(m, ToolMessage) for m in messages):
        return ai("done")
    return ai(call("final_answer", ok=True, notes=[{"text": agent}]))

model = ScriptedChatModel(policy=policy)
graph = compile_agent(Agent(name="judge", model=model, output_schema=Verdict),
                      checkpointer=memory_saver())
cfg = {"configurable": {"thread_id": "t"}}
graph.invoke({"messages": [HumanMessage("judge")]}, cfg)
value = graph.get_state(cfg).values["structured_response"]
assert isinstance(value, Verdict) and isinstance(value.notes[0], Note), value

class S(TypedDict, total=False):
    question: str
    answer: Verdict | None
    outcome: DelegationResult

builder = StateGraph(S)
builder.add_node("ask", delegate_node(Agent(name="asker", model=model, output_schema=Verdict),
                                      input="question", output_key="answer",
                                      result_key="outcome"))
builder.add_edge(START, "ask")
pipeline = builder.compile(checkpointer=memory_saver())
pipeline.invoke({"question": "q"}, cfg)
values = pipeline.get_state(cfg).values
assert isinstance(values["outcome"], DelegationResult), values
assert values["outcome"].status is Status.COMPLETED and isinstance(values["answer"], Verdict)
assert events == [], events
print("ok")
'''


def test_typed_values_come_back_typed_under_the_strict_serializer() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "LANGGRAPH_STRICT_MSGPACK": "true",
           "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
