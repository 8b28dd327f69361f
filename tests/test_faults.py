"""Proof under faults: a failing model server or a failing SQLite file.

A child whose OpenAI-compatible server fails (HTTP 500, timeout, refused connection, body or
stream cut mid-way, dropped connection) is retried by the client as configured, then its
delegation ends ``failed`` while the parent and a sibling finish and the checkpoint keeps
everything. A checkpoint store that fails (locked, read-only, disk full) raises to the
caller, keeps its file intact, and the thread resumes once the fault is gone, re-running no
finished delegation. Every test is bounded by ``BOUND`` seconds and stops its own servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai._base_client as openai_client
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import SkipValidation

from fakes.openai_server import (
    Behaviour,
    FakeOpenAI,
    close,
    hang,
    http_500,
    ok,
    refused_port,
    tool_call,
    truncated,
)
from subagents import Agent, DelegationResult, Status, compile_agent
from subagents.checkpoints import async_sqlite_saver
from subagents.testing import ScriptedChatModel, ai, call

BOUND = 20.0
"""Seconds any single run may take before the test fails."""


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def retries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fast client back-off (10 ms), and a log of the retries the OpenAI client makes."""
    monkeypatch.setattr(openai_client, "INITIAL_RETRY_DELAY", 0.01)
    log: list[int] = []
    real = openai_client.AsyncAPIClient._sleep_for_retry

    async def counted(self: Any, **kwargs: Any) -> None:
        log.append(kwargs["retries_taken"])
        await real(self, **kwargs)

    monkeypatch.setattr(openai_client.AsyncAPIClient, "_sleep_for_retry", counted)
    return log


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def openai_model(base_url: str, *, max_retries: int, timeout: float = 0.5,
                 streaming: bool = False) -> ChatOpenAI:
    return ChatOpenAI(base_url=base_url, api_key="x", model="fake",  # type: ignore[arg-type]
                      max_retries=max_retries, timeout=timeout, streaming=streaming)


async def bounded(run: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(run, BOUND)


# ---------------------------------------------------------------------------- helpers


def cfg(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def answers(messages: list[BaseMessage]) -> dict[str, DelegationResult]:
    """Agent -> result; asserts every tool call is answered exactly once, nothing orphaned."""
    asked = {tc["id"]: tc["args"]["agent"] for m in messages if isinstance(m, AIMessage)
             for tc in m.tool_calls}
    replies = [m for m in messages if isinstance(m, ToolMessage)]
    assert sorted(m.tool_call_id for m in replies) == sorted(asked), (asked, replies)
    out = {}
    for msg in replies:
        res = DelegationResult.from_message(msg)
        assert res.agent == asked[msg.tool_call_id]
        out[res.agent] = res
    return out


def fan_out(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """Root delegates to `bad` and `good` in one turn, then reports both results."""
    if agent == "root":
        if isinstance(messages[-1], HumanMessage):
            return ai(call("task", agent="bad", objective="risky"),
                      call("task", agent="good", objective="safe"))
        return ai("fin")
    return ai(f"{agent} done")


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


# ------------------------------------------------------- 1. a failing model server


FAULTS: list[tuple[str, list[Behaviour] | None, bool, int, int, str]] = [
    # id, script (None: refused), streaming, max_retries, attempts, error pattern
    ("http_500", [http_500()], False, 2, 3, r"Error code: 500 - fake server error"),
    ("timeout", [hang(5)], False, 1, 2, r"Timeout.*timed out"),
    ("refused", None, False, 2, 3, r"Connection.*Connection error"),
    ("truncated_body", [truncated()], False, 2, 3, r"Connection.*Connection error"),
    ("dropped", [close()], False, 2, 3, r"Connection.*Connection error"),
    ("dropped_stream", [close()], True, 2, 3, r"Connection.*Connection error"),
    # The OpenAI client retries only until a response starts: a stream cut mid-way is
    # not retried (the SDK's design); the delegation still ends `failed`, nothing hangs.
    ("truncated_stream", [truncated()], True, 2, 1, r"Connection.*Connection error"),
]


@pytest.mark.parametrize(("script", "streaming", "max_retries", "attempts", "error"),
                         [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_failing_child_model_is_retried_then_fails_its_delegation_only(
    tmp_path: Path, fake_openai: FakeOpenAI, retries: list[int],
    script: list[Behaviour] | None, streaming: bool, max_retries: int, attempts: int,
    error: str,
) -> None:
    if script is None:
        url = f"http://127.0.0.1:{refused_port()}/v1"
    else:
        fake_openai.script(*script)
        url = fake_openai.base_url
    bad = openai_model(url, max_retries=max_retries, streaming=streaming)
    scripted = ScriptedChatModel(policy=fan_out)
    root = Agent(name="root", model=scripted,
                 subagents=[Agent(name="bad", model=bad), Agent(name="good")])
    db = tmp_path / "cp.sqlite"
    async with async_sqlite_saver(db) as saver:
        graph = compile_agent(root, checkpointer=saver)
        out = await bounded(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        state = await graph.aget_state(cfg())

    # retried as configured: the server saw every attempt (refused: the client counted)
    tried = len(retries) + 1 if script is None else fake_openai.count
    assert tried == attempts
    assert len(retries) == attempts - 1
    # the parent and the sibling finished; the bad child's delegation failed, with a reason
    assert out["messages"][-1].content == "fin"
    results = answers(out["messages"])
    assert results["good"].status is Status.COMPLETED
    assert results["good"].result == "good done"
    assert results["bad"].status is Status.FAILED
    assert results["bad"].result is None
    assert re.search(error, results["bad"].error or ""), results["bad"].error
    assert [c.agent for c in scripted.calls] == ["root", "good", "root"]
    # nothing lost in the checkpoint: the final state, also read back from a new connection
    assert state.next == ()
    assert answers(state.values["messages"]) == results
    async with async_sqlite_saver(db) as again:
        reread = await compile_agent(root, checkpointer=again).aget_state(cfg())
    assert answers(reread.values["messages"]) == results
    assert reread.values["messages"][-1].content == "fin"
    assert integrity(db) == "ok"


@pytest.mark.parametrize("first", [http_500(), close(), hang(5), truncated()],
                         ids=["http_500", "dropped", "timeout", "truncated_body"])
async def test_transient_failure_is_retried_and_the_child_completes(
    fake_openai: FakeOpenAI, retries: list[int], first: Behaviour,
) -> None:
    fake_openai.script(first, ok("recovered"))
    bad = openai_model(fake_openai.base_url, max_retries=2)
    scripted = ScriptedChatModel(policy=fan_out)
    root = Agent(name="root", model=scripted,
                 subagents=[Agent(name="bad", model=bad), Agent(name="good")])
    out = await bounded(compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}))
    assert fake_openai.count == 2
    assert retries == [0]
    results = answers(out["messages"])
    assert results["bad"].status is Status.COMPLETED
    assert results["bad"].result == "recovered"
    assert results["good"].result == "good done"


async def test_fake_server_drives_a_root_through_a_delegation(fake_openai: FakeOpenAI) -> None:
    """The fake is a faithful enough OpenAI endpoint: tool calls, tool results, usage."""
    fake_openai.script(tool_call("task", {"agent": "good", "objective": "x"}), ok("fin"))
    root = Agent(name="root", model=openai_model(fake_openai.base_url, max_retries=0),
                 subagents=[Agent(name="good",
                                  model=ScriptedChatModel(policy=fan_out))])
    out = await bounded(compile_agent(root).ainvoke({"messages": [HumanMessage("go")]}))
    assert out["messages"][-1].content == "fin"
    assert answers(out["messages"])["good"].result == "good done"
    usage = out["usage"]  # the fake's usage block reached the usage tree
    assert (usage["model_calls"], usage["input_tokens"], usage["output_tokens"]) == (2, 14, 6)
    second = fake_openai.requests[1]["messages"]
    assert second[-1]["role"] == "tool"
    assert "good done" in second[-1]["content"]


# ------------------------------------------------------- 2. a failing checkpoint store


class Hooked(ScriptedChatModel):
    """A scripted model that awaits ``hooks[agent]`` (once) before that agent's next reply."""

    hooks: SkipValidation[dict[str, Callable[[], Awaitable[None]]]] = {}  # noqa: RUF012

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: Any = None, **kwargs: Any) -> Any:
        agent = run_manager.metadata.get("lc_agent_name") if run_manager else None
        hook = self.hooks.pop(agent, None)
        if hook is not None:
            await hook()
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


def in_turns(messages: list[BaseMessage], agent: str | None) -> AIMessage:
    """Root delegates to `a`, then to `b`, then answers; children answer at once."""
    if agent != "root":
        return ai(f"{agent} done")
    done = [m for m in messages if isinstance(m, ToolMessage)]
    if len(done) < 2:
        return ai(call("task", agent="ab"[len(done)], objective="job"))
    return ai("fin")


def two_turns(hooks: dict[str, Callable[[], Awaitable[None]]]) -> tuple[Agent, Hooked]:
    model = Hooked(policy=in_turns, hooks=hooks)
    return Agent(name="root", model=model, subagents=[Agent(name="a"), Agent(name="b")]), model


def calls(model: ScriptedChatModel) -> dict[str | None, int]:
    return {n: len(model.calls_by(n)) for n in ("root", "a", "b")}


async def assert_b_pending(graph: Any) -> None:
    """After the fault: `a`'s answer is saved, `b`'s call is saved and unanswered."""
    state = await graph.aget_state(cfg())
    messages = state.values["messages"]
    # the saved step may hold root's call to b as a pending write (then `next` is empty)
    pending = [w for t in state.tasks for w in (t.result or {}).get("messages", [])]
    calls_b = {tc["id"] for m in [*messages, *pending] if isinstance(m, AIMessage)
               for tc in m.tool_calls if tc["args"]["agent"] == "b"}
    assert len(calls_b) == 1
    replies = {DelegationResult.from_message(m).agent: DelegationResult.from_message(m)
               for m in messages if isinstance(m, ToolMessage)}
    assert set(replies) == {"a"}
    assert replies["a"].result == "a done"


async def assert_resumes(graph: Any, model: ScriptedChatModel, db: Path) -> None:
    """Resume the thread: `a` (finished before the fault) is not re-run; all answered once."""
    before = calls(model)
    out = await bounded(graph.ainvoke(None, cfg()))
    after = calls(model)
    assert out["messages"][-1].content == "fin"
    results = answers(out["messages"])
    assert {n: r.status for n, r in results.items()} == {"a": Status.COMPLETED,
                                                         "b": Status.COMPLETED}
    assert after["a"] == before["a"] == 1
    assert after["b"] == before["b"] + 1
    assert (await graph.aget_state(cfg())).next == ()
    assert integrity(db) == "ok"


async def test_locked_database_raises_keeps_the_file_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "cp.sqlite"
    holder: list[sqlite3.Connection] = []

    async def lock() -> None:  # another process takes the write lock while `b` works
        def take() -> None:
            conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN EXCLUSIVE")
            holder.append(conn)

        await asyncio.to_thread(take)

    root, model = two_turns({"b": lock})
    async with async_sqlite_saver(db) as saver:
        await saver.conn.execute("PRAGMA busy_timeout=200")  # the default waits 30 s
        graph = compile_agent(root, checkpointer=saver)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                await bounded(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        finally:
            for conn in holder:
                conn.rollback()
                conn.close()
        assert integrity(db) == "ok"
        await assert_b_pending(graph)
        await assert_resumes(graph, model, db)


def chmod_stops_writes(folder: Path) -> bool:
    """False when this user (root) writes through a 0444 file anyway."""
    probe = folder / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    try:
        with probe.open("a"):
            return False
    except PermissionError:
        return True
    finally:
        probe.unlink()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """The folder, read-only: chmod 0o444/0o555, or (as root) a read-only bind mount."""
    if chmod_stops_writes(folder):
        files = list(folder.iterdir())
        for f in files:
            f.chmod(0o444)
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
            for f in files:
                f.chmod(0o644)
        return
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    steps = [["mount", "--bind", str(folder), str(view)],
             ["mount", "-o", "remount,bind,ro", str(view)]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", str(view)], capture_output=True, check=False)
            pytest.skip(f"root ignores chmod and {' '.join(step[:3])} failed "
                        f"({done.stderr.strip()}); the lock test covers this path")
    try:
        with pytest.raises(PermissionError if os.geteuid() else OSError):
            (view / "probe").write_text("x")
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=False)


async def test_readonly_database_raises_keeps_the_file_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "cp.sqlite"

    reached = asyncio.Event()

    async def stall() -> None:  # `b` works until the process is stopped
        reached.set()
        await asyncio.Event().wait()

    root, model = two_turns({"b": stall})
    async with async_sqlite_saver(db) as saver:
        graph = compile_agent(root, checkpointer=saver)
        run = asyncio.create_task(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        await bounded(reached.wait())
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    # the process restarts on a read-only copy of its folder: the resume raises, clearly
    with read_only(folder) as ro:
        # SQLite refuses already when the saver opens (WAL needs a writable folder)
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|unable to open"):
            async with async_sqlite_saver(ro / db.name) as saver:
                graph = compile_agent(root, checkpointer=saver)
                await bounded(graph.ainvoke(None, cfg()))
        assert calls(model)["b"] == 0
    assert integrity(db) == "ok"
    async with async_sqlite_saver(db) as saver:
        graph = compile_agent(root, checkpointer=saver)
        await assert_b_pending(graph)
        await assert_resumes(graph, model, db)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root and mount needed, else skipped), unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                    "test_disk_full_simulated covers the same path")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full."""
    filler = folder / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def test_disk_full_raises_keeps_the_file_and_resumes(small_disk: Path) -> None:
    db = small_disk / "cp.sqlite"
    fillers: list[Path] = []

    async def full() -> None:
        fillers.append(fill(small_disk))

    root, model = two_turns({"b": full})
    async with async_sqlite_saver(db) as saver:
        graph = compile_agent(root, checkpointer=saver)
        try:
            with pytest.raises(sqlite3.OperationalError, match="disk is full"):
                await bounded(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        finally:
            for f in fillers:
                f.unlink()
        assert integrity(db) == "ok"
        await assert_b_pending(graph)
        await assert_resumes(graph, model, db)
    assert os.statvfs(small_disk).f_bfree > 0


class FullWindow:
    """Patch a saver's writers to fail with SQLITE_FULL while ``open`` (child-only option)."""

    def __init__(self, saver: Any, monkeypatch: pytest.MonkeyPatch, *,
                 children_only: bool = False) -> None:
        self.open, self.failed, self.children_only = False, 0, children_only
        for name in ("aput", "aput_writes"):
            monkeypatch.setattr(saver, name, self._wrap(getattr(saver, name)))

    def _wrap(self, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def write(config: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            ns = config["configurable"].get("checkpoint_ns", "")
            if self.open and (ns or not self.children_only):
                self.failed += 1
                raise sqlite3.OperationalError("database or disk is full")
            return await real(config, *args, **kwargs)

        return write

    async def start(self) -> None:
        self.open = True


async def test_disk_full_simulated_raises_keeps_the_file_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "cp.sqlite"
    hooks: dict[str, Callable[[], Awaitable[None]]] = {}
    root, model = two_turns(hooks)
    async with async_sqlite_saver(db) as saver:
        window = FullWindow(saver, monkeypatch)
        hooks["b"] = window.start
        graph = compile_agent(root, checkpointer=saver)
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await bounded(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        window.open = False
        assert window.failed >= 1
        assert integrity(db) == "ok"
        await assert_b_pending(graph)
        await assert_resumes(graph, model, db)


async def test_storage_fault_inside_a_child_is_not_recorded_as_a_failed_delegation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "cp.sqlite"
    hooks: dict[str, Callable[[], Awaitable[None]]] = {}
    root, _ = two_turns(hooks)
    async with async_sqlite_saver(db) as saver:
        window = FullWindow(saver, monkeypatch, children_only=True)

        async def start_then_stop() -> None:  # a short fault: only b's own writes fail
            await window.start()
            asyncio.get_running_loop().call_later(0.05, setattr, window, "open", False)

        hooks["b"] = start_then_stop
        graph = compile_agent(root, checkpointer=saver)
        try:
            out = await bounded(graph.ainvoke({"messages": [HumanMessage("go")]}, cfg()))
        except sqlite3.OperationalError:
            window.open = False
            out = await bounded(graph.ainvoke(None, cfg()))
        assert window.failed >= 1
        result = answers(out["messages"])["b"]
        assert result.status is Status.COMPLETED, result
