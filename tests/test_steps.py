"""The sans-IO driver: one step, run by ``drive`` and ``adrive`` with the same outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from subagents.runtime.steps import Both, Invoke, Step, adrive, drive


def _double_then_add(x: int) -> Step[int]:
    doubled = yield Invoke(RunnableLambda(lambda v: v * 2), x)
    added = yield Both(lambda: doubled + 1, lambda: _async_value(doubled + 1))
    return int(added)


async def _async_value(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


def _catches() -> Step[str]:
    try:
        yield Invoke(RunnableLambda(_boom), None)
    except ValueError as exc:
        return f"caught {exc}"
    return "not reached"


def _boom(_: Any) -> Any:
    raise ValueError("boom")


def test_drive_and_adrive_run_one_step_the_same_way() -> None:
    assert drive(_double_then_add(5)) == 11
    assert asyncio.run(adrive(_double_then_add(5))) == 11


def test_a_failing_request_is_thrown_into_the_step() -> None:
    assert drive(_catches()) == "caught boom"
    assert asyncio.run(adrive(_catches())) == "caught boom"


def test_an_exception_the_step_lets_out_reaches_the_caller() -> None:
    def lets_out() -> Step[None]:
        yield Invoke(RunnableLambda(_boom), None)

    with pytest.raises(ValueError, match="boom"):
        drive(lets_out())
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(adrive(lets_out()))


def test_cancellation_runs_the_steps_finally() -> None:
    cleaned: list[str] = []
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    def step() -> Step[None]:
        try:
            yield Both(lambda: None, forever)
        finally:
            cleaned.append("done")

    async def main() -> None:
        task = asyncio.create_task(adrive(step()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == ["done"]
