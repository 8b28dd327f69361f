"""Test doubles users import: a scripted chat model that needs no network.

Example:
    >>> from subagents.testing import ScriptedChatModel, ai, call
    >>> model = ScriptedChatModel(steps={"dev": [ai(call("task", agent="search",
    ...     objective="find x")), ai("x is in a.py")], "search": [ai("a.py")]})
"""

from subagents.testing.scripted import ModelCall, ScriptedChatModel, ScriptExhaustedError, ai, call

__all__ = ["ModelCall", "ScriptExhaustedError", "ScriptedChatModel", "ai", "call"]
