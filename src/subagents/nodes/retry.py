"""Retries and timeouts of delegations: ``Agent.retry`` and ``Agent.timeout``.

Attempts. A delegation to an agent with a ``retry`` policy (LangGraph's
``langgraph.types.RetryPolicy``) runs the child again when an attempt raises, ends
``failed`` or ends ``timeout``, up to ``max_attempts`` attempts in all. Tenacity runs the
attempts and waits between them as the policy says (``wait_exponential``:
``initial_interval * backoff_factor ** (n - 1)`` seconds after attempt ``n``, at most
``max_interval``, plus up to 1 s of ``wait_random`` jitter when ``jitter``, as LangGraph
does). ``retry_on`` (exception types or a predicate, as in
LangGraph) is asked about the exception the child raised; an attempt that ended ``failed``
without raising is asked as a :class:`SubagentFailed`, one that ran out of time as a
:class:`SubagentTimeout` (LangGraph's ``default_retry_on`` retries both, and does not retry
``ValueError``, ``RuntimeError``, ``OSError``, ... raised by a child). Cancellation, interrupts
and storage failures are never retried; other endings (``max_steps``, ``over_budget``, ...)
end the delegation at once.

Each attempt is a fresh task: the child graph is invoked again with the same task message in
a new run scope (its own usage node, numbered ``attempt``) and a new checkpoint namespace,
remembering nothing of the failed attempt. A persistent child's attempt ``n > 1`` sends the
task again as a new message on its own thread (id ``task-<tool_call_id>#<n>``), so a parent
resumed after a crash reads back the attempts that finished and resumes the one cut short
from its checkpoint. Detached children (``subagents.dispatch``) run attempt ``n > 1`` on
their own checkpoint thread ``job-<id>#<n>``, with the same effect after a restart.

Timeouts. ``Agent.timeout`` bounds each attempt. An async child (``ainvoke``: sync, parallel
and background calls) runs under ``asyncio.timeout``: at the deadline its task is cancelled,
which cancels its descendants (each recorded ``cancelled``), and the delegation ends
``timeout``. A sync child (``invoke``) runs in its own thread while the delegation node waits
at most ``timeout`` seconds for it; then the node stops waiting, answers ``timeout`` and sets
the call's stop flag (``CallInfo.stopped``): the child and its descendants stop at their next
node (every node raises ``subagents.runtime.call.Stopped`` once the flag is set, see
``AgentNode``). A
step already running (a model call that hangs) is not interrupted: its thread ends when the
step returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Any

from langgraph.types import RetryPolicy
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from subagents.errors import SubagentsError
from subagents.results import Status
from subagents.runtime.background import Outcome
from subagents.runtime.call import CallInfo

__all__ = ["Attempt", "OnRetry", "SubagentFailed", "SubagentTimeout", "SyncTimeoutError",
           "arun_attempts", "awaited", "retryable", "run_attempts", "run_within", "timed_out"]

Attempt = tuple[Outcome, BaseException | None]
"""One attempt: its outcome and the exception the child raised (None: it did not raise)."""
OnRetry = Callable[[CallInfo, Outcome, float], None]
"""``on_retry(call, failed_outcome, delay_seconds)``, before the wait for the next attempt."""


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


class _Retry(SubagentsError):
    """Tells tenacity an attempt failed in a way the policy retries."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome[2])
        self.outcome = outcome


def timed_out(call: CallInfo, seconds: float) -> Outcome:
    """The outcome of an attempt still running after ``seconds``; its usage says ``timeout``."""
    if call.scope is not None:
        call.scope.usage.status = Status.TIMEOUT.value
    return Status.TIMEOUT, None, f"still running after {seconds:g} s (timeout)"


def retryable(policy: RetryPolicy, outcome: Outcome, cause: BaseException | None) -> bool:
    """Whether ``policy`` runs the child again after an attempt ending ``outcome``.

    Args:
        policy: the agent's retry policy.
        outcome: ``(status, result, error)`` of the attempt.
        cause: the exception the child raised, or None.
    """
    status, _, error = outcome
    if status not in (Status.FAILED, Status.TIMEOUT):
        return False
    exc: BaseException = cause if isinstance(cause, Exception) else (
        SubagentTimeout if status is Status.TIMEOUT else SubagentFailed)(status, error)
    retry_on: Any = policy.retry_on
    if isinstance(retry_on, type):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    return bool(retry_on(exc))


def _judge(policy: RetryPolicy, call: CallInfo, attempt: Attempt) -> Outcome:
    outcome, cause = attempt
    if not outcome[0].ok:
        call.errors.append(outcome[2] or outcome[0].value)
    if retryable(policy, outcome, cause):
        raise _Retry(outcome)
    return outcome


def _tenacity(policy: RetryPolicy, call: CallInfo, on_retry: OnRetry) -> dict[str, Any]:
    """Tenacity's settings for ``policy``; ``before_sleep`` reports a failed attempt."""

    def before_sleep(state: RetryCallState) -> None:
        failed = state.outcome.exception() if state.outcome is not None else None
        assert isinstance(failed, _Retry)
        on_retry(call, failed.outcome, state.upcoming_sleep)

    wait: Any = wait_exponential(multiplier=policy.initial_interval, max=policy.max_interval,
                                 exp_base=policy.backoff_factor)
    if policy.jitter:
        wait = wait + wait_random(0, 1)
    return {"stop": stop_after_attempt(policy.max_attempts), "wait": wait,
            "retry": retry_if_exception_type(_Retry), "before_sleep": before_sleep,
            "reraise": True}


def _number(call: CallInfo) -> None:
    """An attempt starts: number it (``call.attempt``: one more than the failed ones).

    From the second on it forgets the failed attempt's scope, readable until then (by the
    ``subagent_end`` of a delegation cancelled during the wait).
    """
    if call.errors:
        call.attempt, call.scope = len(call.errors) + 1, None


async def arun_attempts(policy: RetryPolicy | None, call: CallInfo,
                        attempt: Callable[[], Awaitable[Attempt]], on_retry: OnRetry) -> Outcome:
    """Run ``attempt()`` until it succeeds or ``policy`` gives up; the last outcome.

    ``call.attempt`` numbers the attempt running; ``call.errors`` collects failed attempts'
    errors. Exceptions ``attempt()`` raises (cancellation, interrupts) propagate, never
    retried.
    """
    if policy is None:
        return (await attempt())[0]

    async def once() -> Outcome:
        _number(call)
        return _judge(policy, call, await attempt())

    try:
        result: Outcome = await AsyncRetrying(**_tenacity(policy, call, on_retry))(once)
    except _Retry as last:
        return last.outcome
    return result


def run_attempts(policy: RetryPolicy | None, call: CallInfo, attempt: Callable[[], Attempt],
                 on_retry: OnRetry) -> Outcome:
    """Sync :func:`arun_attempts` (waits between attempts with ``time.sleep``)."""
    if policy is None:
        return attempt()[0]

    def once() -> Outcome:
        _number(call)
        return _judge(policy, call, attempt())

    try:
        result: Outcome = Retrying(**_tenacity(policy, call, on_retry))(once)
    except _Retry as last:
        return last.outcome
    return result


class SyncTimeoutError(SubagentsError):
    """A sync child was still running at its timeout (the delegation stopped waiting)."""


def run_within(seconds: float | None, call: CallInfo, fn: Callable[[], Any]) -> Any:
    """``fn()`` (a sync child run), waiting at most ``seconds`` for it (None: no limit).

    The child runs in its own daemon thread with the caller's context (LangGraph's config
    variable). When the wait ends early (the timeout, or the caller is interrupted) the call's
    stop flag is set, so the child stops at its next node.

    Raises:
        SyncTimeoutError: still running after ``seconds``.
    """
    if seconds is None:
        return fn()
    future: Future[Any] = Future()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(ctx.run(fn))
        except BaseException as exc:  # handed to the waiting node, or dropped after a timeout
            future.set_exception(exc)

    threading.Thread(target=target, name=f"subagent-{call.tool_call_id}", daemon=True).start()
    try:
        return future.result(timeout=seconds)
    except TimeoutError:
        if future.done():  # the child itself raised a TimeoutError
            raise
        call.stopped = True
        raise SyncTimeoutError from None
    except BaseException:
        if not future.done():
            call.stopped = True
        raise


async def awaited(seconds: float | None, run: Awaitable[Any]) -> tuple[Any, bool]:
    """``(await run, False)``, or ``(None, True)`` when still running after ``seconds``.

    At the deadline ``run`` is cancelled (with its descendants); a ``TimeoutError`` the child
    raises itself propagates.
    """
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await run, False
    except TimeoutError:
        if deadline.expired():
            return None, True
        raise
