"""Retries and timeouts of delegations: ``Agent.retry`` and ``Agent.timeout``.

Attempts. A delegation (a ``task`` call, or a ``delegate_node`` pipeline step) to an agent
with a ``retry`` policy (LangGraph's ``langgraph.types.RetryPolicy``) runs the child again
when an attempt raises, ends ``failed`` or ends ``timeout``, up to ``max_attempts`` attempts
in all: :func:`attempts`, a sans-IO step (``subagents.runtime.steps``), runs them and waits
between them (a :class:`Wait` request) as the policy says, the wait computed by tenacity
(``wait_exponential``: ``initial_interval * backoff_factor ** (n - 1)`` seconds after
attempt ``n``, at most ``max_interval``, plus up to 1 s of ``wait_random`` jitter when
``jitter``, as LangGraph does). ``retry_on`` (exception types or a predicate, as in
LangGraph) is asked about the exception the child raised; an attempt that ended ``failed``
without raising is asked as a :class:`SubagentFailed`, one that ran out of time as a
:class:`SubagentTimeout` (LangGraph's ``default_retry_on`` retries both, and does not retry
``ValueError``, ``RuntimeError``, ``OSError``, ... raised by a child). Cancellation,
interrupts and storage failures are never retried; other endings (``max_steps``,
``over_budget``, ...) end the delegation at once.

Each attempt is a fresh task: the child graph is invoked again with the same task message in
a new run scope (its own usage node, numbered ``attempt``) and a new checkpoint namespace,
remembering nothing of the failed attempt. A persistent child's attempt ``n > 1`` sends the
task again as a new message on its own thread (id ``task-<tool_call_id>#<n>``), so a parent
resumed after a crash reads back the attempts that finished and resumes the one cut short
from its checkpoint. Detached children (``subagents.dispatch``) run attempt ``n > 1`` on
their own checkpoint thread ``job-<id>#<n>``, with the same effect after a restart.

Timeouts. ``Agent.timeout`` bounds each attempt (a :class:`RunChild` request). An async
child (``ainvoke``: sync, parallel and background calls) runs under ``asyncio.timeout``: at
the deadline its task is cancelled, which cancels its descendants (each recorded
``cancelled``), and the delegation ends ``timeout``. A sync child (``invoke``) runs in its
own thread while the delegation node waits at most ``timeout`` seconds for it; then the node
stops waiting, answers ``timeout`` and sets the call's stop flag (``CallInfo.stopped``): the
child and its descendants stop at their next node (every node raises
``subagents.runtime.call.Stopped`` once the flag is set, see ``AgentNode``). A step already
running (a model call that hangs) is not interrupted: its thread ends when the step returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy
from tenacity import RetryCallState, wait_exponential, wait_random

from subagents.checkpoints.errors import is_storage_error
from subagents.errors import SubagentsError
from subagents.nodes._attempt_log import AttemptLog
from subagents.results import Ending, Status
from subagents.runtime.call import CallInfo, Stopped
from subagents.runtime.scope import RunScope
from subagents.runtime.steps import Request, Step, adrive, drive
from subagents.runtime.threads import in_daemon_thread

__all__ = ["Attempt", "Deadline", "OnRetry", "RunChild", "SubagentFailed", "SubagentTimeout",
           "Wait", "attempts", "crashed", "retryable", "single", "timed_out"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a child run.

    Attributes:
        ending: how it ended.
        cause: the exception the child raised (None: it did not raise).
    """

    ending: Ending
    cause: BaseException | None = None


OnRetry = Callable[[CallInfo, Ending, float], None]
"""``on_retry(call, failed_ending, delay_seconds)``, before the wait for the next attempt."""
Deadline = Callable[[], tuple[float, float] | None]
"""The enclosing budgets' deadline: ``(time.monotonic() time, max_seconds)``, or None."""


class SubagentFailed(SubagentsError):
    """An attempt that ended ``failed`` without raising, as ``retry_on`` sees it.

    Attributes:
        status: how the attempt ended.
    """

    def __init__(self, status: Status, error: str | None) -> None:
        super().__init__(error or status.value)
        self.status = status


class SubagentTimeout(SubagentFailed):
    """An attempt still running at ``Agent.timeout``, as ``retry_on`` sees it."""


def timed_out(child: RunScope | None, seconds: float) -> Ending:
    """The ending of an attempt still running after ``seconds``; its usage says ``timeout``.

    Args:
        child: the scope the attempt opened (None: it had not opened one).
        seconds: the timeout that passed.
    """
    if child is not None:
        child.usage.status = Status.TIMEOUT.value
    return Ending(Status.TIMEOUT, None, f"still running after {seconds:g} s (timeout)")


def retryable(policy: RetryPolicy, ending: Ending, cause: BaseException | None) -> bool:
    """Whether ``policy`` runs the child again after an attempt that ended so.

    Args:
        policy: the agent's retry policy.
        ending: how the attempt ended.
        cause: the exception the child raised, or None.
    """
    if ending.status not in (Status.FAILED, Status.TIMEOUT):
        return False
    exc: BaseException = cause if isinstance(cause, Exception) else (
        SubagentTimeout if ending.status is Status.TIMEOUT else SubagentFailed)(
            ending.status, ending.error)
    retry_on: Any = policy.retry_on
    if isinstance(retry_on, type):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    return bool(retry_on(exc))


def crashed(exc: BaseException) -> Attempt:
    """The attempt of a child run that raised an ``Exception``: ``failed``, maybe retried.

    What must stop the parent too is re-raised, never retried: interrupts
    (``GraphBubbleUp``), storage failures, cancellation, ``Stopped`` (a timed-out sync
    ancestor) and any other ``BaseException``.
    """
    if (not isinstance(exc, Exception) or isinstance(exc, GraphBubbleUp | Stopped)
            or is_storage_error(exc)):
        raise exc
    return Attempt(Ending(Status.FAILED, None, f"{type(exc).__name__}: {exc}"), exc)


def attempts(policy: RetryPolicy | None, call: CallInfo, attempt: Callable[[], Step[Attempt]],
             on_retry: OnRetry, log: AttemptLog | None = None,
             deadline: Deadline | None = None) -> Step[Ending]:
    """Run ``attempt()`` until it succeeds or ``policy`` gives up; the last ending (a step).

    ``call.attempt`` numbers the attempt running; ``call.errors`` collects failed attempts'
    errors. The failed attempt's scope stays the one its parent finds for ``call`` until
    the next attempt starts (for the ``subagent_end`` of a delegation cancelled during the
    wait). Exceptions ``attempt()`` raises (cancellation, interrupts) propagate, never
    retried. With a ``log`` (a delegation node's, ``nodes._attempt_log``), each next attempt
    is recorded before its wait, and a resumed node goes on from the recorded attempt.
    ``deadline()``: the enclosing budgets' ``max_seconds`` deadline (``BudgetTracker.deadline``);
    a retry whose wait would end after it is not made: the delegation ends at once with the
    failed attempt's ending, its error saying so (no wait outlives the budget).
    """
    if policy is None:
        return (yield from attempt()).ending
    if log is not None and log.resuming:
        saved = yield log.recall()
        if saved is not None and saved.attempt <= policy.max_attempts:
            call.attempt, call.errors[:] = saved.attempt, saved.errors
            log.resume_at(saved)
    while True:
        tried = yield from attempt()
        ending = tried.ending
        if not ending.status.ok:
            call.errors.append(ending.error or ending.status.value)
        if not retryable(policy, ending, tried.cause) or call.attempt >= policy.max_attempts:
            return ending
        delay = _delay(policy, call.attempt)
        if (late := _past(deadline, delay)) is not None:
            return replace(ending, error=f"{ending.error or ending.status.value} (not retried: "
                           f"the next attempt would start after the budget's {late})")
        on_retry(call, ending, delay)
        if log is not None:
            yield log.record(call)
        yield Wait(delay)
        call.attempt = len(call.errors) + 1


def _past(deadline: Deadline | None, delay: float) -> str | None:
    """``max_seconds=<limit>`` when a wait of ``delay`` seconds ends past the deadline."""
    end = deadline() if deadline is not None else None
    if end is None or time.monotonic() + delay < end[0]:
        return None
    return f"max_seconds={end[1]:g} deadline"


def _delay(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt``: tenacity's, as LangGraph's."""
    wait: Any = wait_exponential(multiplier=policy.initial_interval, max=policy.max_interval,
                                 exp_base=policy.backoff_factor)
    if policy.jitter:
        wait = wait + wait_random(0, 1)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return float(wait(state))


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait ``seconds`` between attempts: ``time.sleep`` sync, ``asyncio.sleep`` async."""

    seconds: float

    def run(self) -> None:
        """Sleep in the calling thread."""
        time.sleep(self.seconds)

    async def arun(self) -> None:
        """Sleep on the event loop (cancellation ends the wait)."""
        await asyncio.sleep(self.seconds)


@dataclass(frozen=True, slots=True)
class RunChild:
    """Run a child (a step of its own) within ``timeout`` seconds: ``(state, late)``.

    Sync (``run``): the child runs in its own daemon thread with the caller's context
    (LangGraph's config variable) while the caller waits at most ``timeout``; when the wait
    ends early (the timeout, or the caller is interrupted) ``call.stopped`` is set, so the
    child stops at its next node. Async (``arun``): under ``asyncio.timeout``; at the
    deadline the child is cancelled with its descendants. A ``TimeoutError`` the child raises
    itself propagates.

    Attributes:
        start: makes the child's step (called once, where it runs).
        timeout: seconds (None: no limit).
        call: the attempt's record (its stop flag).

    Returns:
        ``(state, False)``, or ``(None, True)`` when still running at the deadline.
    """

    start: Callable[[], Step[Any]]
    timeout: float | None
    call: CallInfo

    def run(self) -> tuple[Any, bool]:
        """Run the child, waiting in the calling thread."""
        if self.timeout is None:
            return drive(self.start()), False
        return _run_within(self.timeout, self.call, lambda: drive(self.start()))

    async def arun(self) -> tuple[Any, bool]:
        """Run the child on the event loop."""
        if self.timeout is None:
            return await adrive(self.start()), False
        return await _awaited(self.timeout, adrive(self.start()))


def single(request: Request[_T]) -> Step[_T]:
    """A step that only does ``request`` (a child run that is one ``Invoke``, for ``RunChild``)."""
    result: _T = yield request
    return result


def _run_within(seconds: float, call: CallInfo, fn: Callable[[], Any]) -> tuple[Any, bool]:
    future = in_daemon_thread(fn, f"subagent-{call.tool_call_id}")
    try:
        return future.result(timeout=seconds), False
    except TimeoutError:
        if future.done():  # the child itself raised a TimeoutError
            raise
        call.stopped = True
        return None, True
    except BaseException:
        if not future.done():
            call.stopped = True
        raise


async def _awaited(seconds: float, run: Awaitable[Any]) -> tuple[Any, bool]:
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await run, False
    except TimeoutError:
        if deadline.expired():
            return None, True
        raise
