"""Test doubles users import: a scripted chat model that needs no network.

Example:
    >>> from subagents.testing import ScriptedChatModel, ai, call
    >>> model = ScriptedChatModel(steps={"dev": [ai(call("task", agent="search",
    ...     objective="find x")), ai("x is in a.py")], "search": [ai("a.py")]})
"""

from subagents.testing.scripted import ModelCall, ScriptedChatModel, ScriptExhaustedError, ai, call
from subagents.testing.trace import ancestry_path, normalise_trace, transition_trace

__all__ = [
    "ModelCall",
    "ScriptExhaustedError",
    "ScriptedChatModel",
    "ai",
    "ancestry_path",
    "call",
    "normalise_trace",
    "transition_trace",
]
