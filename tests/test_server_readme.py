"""The README's ``langgraph dev`` line, run as written in a fresh checkout, serves every graph.

The checkout is a copy of the repository's tracked files with ``.venv`` linked to the
running virtual environment (what ``make install`` leaves). No ``SUBAGENTS_ROOT`` is set: the
explorer's file tools use the server's working directory, resolved off the event loop. The
README's keyless line runs each graph on its scripted demo model; a client of a graph whose
model cannot be built reads the reason, not "An internal error occurred".
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _server import REPO, DevServer, sdk_client, start_dev_server

pytestmark = pytest.mark.server


def readme_command(marker: str) -> tuple[dict[str, str], list[str]]:
    """The README's indented command line containing ``marker``: (env assignments, argv)."""
    lines = [ln.strip() for ln in (REPO / "README.md").read_text().splitlines()
             if ln.startswith("    ") and marker in ln]
    assert lines, f"no README command line with {marker!r}"
    words = shlex.split(lines[0])
    env: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith(("-", ".", "/")):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def fresh_checkout(dest: Path) -> Path:
    """Copy the tracked files of the repository to ``dest`` and link ``.venv``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    return dest


def start(tmp: Path, extra_env: dict[str, str]) -> DevServer:
    env, argv = readme_command("langgraph dev")
    checkout = fresh_checkout(tmp)
    return start_dev_server(checkout, {**env, **extra_env}, command=argv, startup_timeout=90.0,
                            unset=("SUBAGENTS_ROOT", "SUBAGENTS_MODEL"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    srv = start(tmp_path_factory.mktemp("checkout"), {"SUBAGENTS_DEMO_SLOW": "0"})
    try:
        yield srv
    finally:
        srv.stop()


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_the_readme_line_is_keyless_and_sets_no_root() -> None:
    env, argv = readme_command("langgraph dev")
    assert env.get("SUBAGENTS_MODEL") == "demo" and "SUBAGENTS_ROOT" not in env
    assert argv[0] == ".venv/bin/langgraph" and argv[1] == "dev"


async def test_explorer_answers_from_the_servers_working_directory(server: DevServer) -> None:
    async with sdk_client(server, timeout=60.0) as client:
        thread = await client.threads.create()
        out: Any = await client.runs.wait(thread["thread_id"], "explorer",
                                          input=user("Where is make_graph"))
    answer = out["messages"][-1]["content"]
    assert answer.startswith("answer: ") and "src/subagents/graphs/explorer.py" in answer
    assert "BlockingError" not in server.log()


async def test_research_runs_its_background_researchers(server: DevServer) -> None:
    async with sdk_client(server, timeout=60.0) as client:
        thread = await client.threads.create()
        out: Any = await client.runs.wait(thread["thread_id"], "research",
                                          input=user("alpha, beta"))
    assert out["messages"][-1]["content"].startswith("report: ")
    awaited = next(m["content"] for m in out["messages"] if m.get("name") == "agent_await")
    assert "facts about alpha" in awaited and "facts about beta" in awaited
    assert "BlockingError" not in server.log()


async def test_a_graph_whose_model_cannot_be_built_tells_the_client_why(
        tmp_path: Path) -> None:
    srv = start(tmp_path, {"SUBAGENTS_MODEL": "anthropic:claude"})
    try:
        async with sdk_client(srv, timeout=60.0) as client:
            thread = await client.threads.create()
            with pytest.raises(Exception) as err:  # the SDK raises "<type>: <message>"
                await client.runs.wait(thread["thread_id"], "explorer", input=user("x"))
    finally:
        srv.stop()
    assert "ModelResolutionError" in str(err.value)
    assert "provider 'anthropic' is not built in" in str(err.value)
