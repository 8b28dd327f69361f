"""The custom stream of a run that hosts background children started before it.

A run that adopts a paused run's background table (``runtime.parking``) or re-attaches its
thread's background children after a restart (``nodes.reattach``) takes over children that
were started by an earlier run, with that run's config: their events must reach the custom
stream of the run hosting them now. That stream is only known once LangGraph runs a node of
the hosting run (it is in the node's config, ``CONFIG_KEY_STREAM``), and a re-attached child
may emit before that: :class:`LateStream` holds those events until the stream is known
(:meth:`LateStream.bind`), then writes them in order, or drops them when the run streams no
``custom`` mode. At most :data:`MAX_PENDING` events wait (the oldest are dropped first), so
a run whose nodes never run cannot grow it without bound.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from langchain_core.runnables import RunnableConfig

from subagents.runtime.upstream import CONFIG_KEY_STREAM

__all__ = ["MAX_PENDING", "LateStream"]

MAX_PENDING = 10_000
"""Events a :class:`LateStream` holds before its stream is known."""

_UNKNOWN: set[str] = {"custom"}


class LateStream:
    """A stand-in for LangGraph's ``StreamProtocol`` (``modes`` and a call) bound late.

    Until :meth:`bind`, ``modes`` is ``{"custom"}`` and every chunk waits; after it, chunks go
    to the bound stream (or nowhere: the run has no stream) and ``modes`` are its modes.
    Thread-safe: a sync child may write from its own thread.
    """

    __slots__ = ("_lock", "_pending", "bound", "target")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque(maxlen=MAX_PENDING)
        self.bound = False
        """Whether a node of the hosting run has run (``target`` is known)."""
        self.target: Any = None
        """The hosting run's stream (LangGraph's ``StreamProtocol``), None: it has none."""

    @property
    def modes(self) -> set[str]:
        """The stream modes written: the bound stream's, ``{"custom"}`` before the bind."""
        if not self.bound:
            return _UNKNOWN
        return set(self.target.modes) if self.target is not None else set()

    def __call__(self, chunk: Any) -> None:
        """Write ``chunk`` (``(namespace, mode, payload)``), or keep it until :meth:`bind`."""
        with self._lock:
            if not self.bound:
                self._pending.append(chunk)
                return
        self._forward(chunk)

    def bind(self, config: RunnableConfig | None) -> None:
        """Bind to the stream in a node's ``config`` (the first call wins) and flush."""
        if self.bound:  # every node of the hosting run calls this: no lock once bound
            return
        with self._lock:
            if self.bound:
                return
            self.target = (config or {}).get("configurable", {}).get(CONFIG_KEY_STREAM)
            self.bound = True
            while self._pending:  # in order, before any chunk written after the bind
                self._forward(self._pending.popleft())

    def _forward(self, chunk: Any) -> None:
        if self.target is not None and chunk[1] in self.target.modes:
            self.target(chunk)
