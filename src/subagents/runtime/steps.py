"""Sans-IO steps: a node written once, run by one sync and one async driver.

A *step* is a generator that holds a node's logic and no I/O of its own. Where it needs the
world (a model call, a child graph run, a tool call), it yields a :class:`Request` and is
sent the request's result back, or has the request's exception thrown in at the ``yield``;
its return value is the node's update. :func:`drive` runs a step with the sync half of each
request, :func:`adrive` with the async half: the logic is written once, in the step, and
the two ways to do I/O live in the few request types below (the idea of httpx's sans-IO
core, applied to LangGraph nodes)::

    def model_step(state, config) -> Step[dict[str, Any]]:
        reply = yield Invoke(model, state["messages"], config)
        return {"messages": [reply]}

    drive(model_step(state, config))           # in a node's ``invoke``
    await adrive(model_step(state, config))    # in its ``ainvoke``

A request type only says how to do one kind of I/O both ways; what is asked, when, and what
follows from the answer stay in the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["AsyncOnly", "Both", "Invoke", "Request", "Step", "adrive", "drive"]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


class Request(Protocol[_T_co]):
    """One piece of I/O a step asks for, done sync (``run``) or async (``arun``)."""

    def run(self) -> _T_co:
        """Do it in the calling thread; return its result or raise."""
        ...

    def arun(self) -> Awaitable[_T_co]:
        """Do it on the running event loop; return its result or raise."""
        ...


Step = Generator["Request[Any]", Any, _T]
"""A node's logic: yields requests, is sent their results, returns the node's output."""


@dataclass(frozen=True, slots=True)
class Invoke:
    """Call a ``Runnable`` (a chat model, a compiled graph, a tool): ``invoke``/``ainvoke``.

    Attributes:
        runnable: what to call.
        input: its input.
        config: the ``RunnableConfig`` to pass (None: the runnable's default).
        kwargs: extra keyword arguments (``interrupt_before=[...]`` for a graph).
    """

    runnable: Runnable[Any, Any]
    input: Any
    config: RunnableConfig | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def run(self) -> Any:
        """``runnable.invoke(input, config, **kwargs)``."""
        return self.runnable.invoke(self.input, self.config, **self.kwargs)

    async def arun(self) -> Any:
        """``await runnable.ainvoke(input, config, **kwargs)``."""
        return await self.runnable.ainvoke(self.input, self.config, **self.kwargs)


@dataclass(frozen=True, slots=True)
class Both:
    """I/O given as its two halves: a sync function and an async one, neither taking arguments.

    For what is not a ``Runnable``: a budget reservation that may wait, a persistent child's
    checkpoint lookup, closing a background table.

    Attributes:
        sync: called by :func:`drive`.
        async_: awaited by :func:`adrive`.
    """

    sync: Callable[[], Any]
    async_: Callable[[], Awaitable[Any]]

    def run(self) -> Any:
        """``sync()``."""
        return self.sync()

    async def arun(self) -> Any:
        """``await async_()``."""
        return await self.async_()


@dataclass(frozen=True, slots=True)
class AsyncOnly:
    """I/O that exists only in an async run (a coroutine-only API such as a dispatcher's).

    Attributes:
        start: returns the awaitable to await.
        why: the error a sync run gets (a step reaches this only on paths a sync run
            refuses earlier, so it is a guard).
    """

    start: Callable[[], Awaitable[Any]]
    why: str

    def run(self) -> Any:
        """Raise ``RuntimeError(why)``: there is no sync half."""
        raise RuntimeError(self.why)

    async def arun(self) -> Any:
        """``await start()``."""
        return await self.start()


def drive(step: Step[_T]) -> _T:
    """Run a step to its end, doing each request it yields synchronously (``run``).

    The loop of :func:`adrive` with ``request.run()`` in the calling thread instead of
    ``await request.arun()``: no coroutine and no event loop, since a delegation's sync
    nodes pass through here several times. A request that raises has its exception thrown
    into the step at its ``yield`` (the step may catch it); an exception the step lets out
    propagates to the caller unchanged, ``BaseException`` s included.

    Returns:
        The step's return value.
    """
    try:
        request = next(step)
        while True:
            try:
                result = request.run()
            except BaseException as exc:  # handed to the step, which decides
                request = step.throw(exc)
            else:
                request = step.send(result)
    except StopIteration as done:
        value: _T = done.value
        return value
    finally:
        step.close()


async def adrive(step: Step[_T]) -> _T:
    """Run a step to its end, awaiting each request it yields (``arun``); see :func:`drive`.

    Cancellation (``asyncio.CancelledError``) of an awaited request is thrown into the step
    like any other exception, so ``finally`` blocks of the step run; an exception the step
    lets out propagates unchanged, ``BaseException`` s included (LangGraph's ``GraphBubbleUp``
    for an ``interrupt()``, ``asyncio.CancelledError``).

    Returns:
        The step's return value.
    """
    try:
        request = next(step)
        while True:
            try:
                result = await request.arun()
            except BaseException as exc:  # handed to the step, which decides
                request = step.throw(exc)
            else:
                request = step.send(result)
    except StopIteration as done:
        value: _T = done.value
        return value
    finally:
        step.close()
