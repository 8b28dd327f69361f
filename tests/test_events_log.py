"""The event log's writer never dies and never hides a loss: an event it cannot write is
counted, logged and reported (the CLI exits 1); every other event is written."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from subagents.checkpoints.events_log import EventLog
from subagents.cli.main import app
from subagents.events import ModelStart, SubagentEnd, SubagentStart, TextDelta
from subagents.results import Status

PATH = ["lead"]


def refuse(db: Path, event_type: str) -> None:
    """A SQLite trigger that makes every insert of ``event_type`` fail (a real SQLite error)."""
    EventLog(db).close()  # creates the table
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON subagent_events WHEN NEW.type = "
                     f"'{event_type}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")


def test_a_lone_surrogate_is_escaped_not_fatal(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.db")
    sink = log.sink("r1")
    sink(SubagentStart(path=PATH, agent="lead", objective="go \udc80"))
    sink(TextDelta(path=PATH, agent="lead", text="x\ud800y"))
    sink(SubagentEnd(path=PATH, agent="lead", status=Status.COMPLETED, result=object()))
    log.close()
    assert (log.lost, log.errors) == (0, [])
    events = log.events("r1")
    assert [e.type for e in events] == ["subagent_start", "text_delta", "subagent_end"]
    assert isinstance(events[0], SubagentStart) and events[0].objective == "go \\udc80"
    assert isinstance(events[1], TextDelta) and events[1].text == "x\\ud800y"
    assert isinstance(events[2], SubagentEnd) and str(events[2].result).startswith("<object")


def test_a_sqlite_error_loses_that_event_only_and_is_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "events.db"
    refuse(db, "model_start")
    log = EventLog(db)
    sink = log.sink("r1")
    sink(SubagentStart(path=PATH, agent="lead", objective="go"))
    sink(ModelStart(path=PATH, agent="lead", messages=1))
    sink(TextDelta(path=PATH, agent="lead", text="hi"))
    sink(ModelStart(path=PATH, agent="lead", messages=2))
    sink(SubagentEnd(path=PATH, agent="lead", status=Status.COMPLETED, result="done"))
    with caplog.at_level(logging.ERROR, logger="subagents.checkpoints.events_log"):
        log.close()
    assert log.lost == 2
    assert log.errors == [f"run 'r1' event {seq}: IntegrityError: refused by the test"
                          for seq in (2, 4)]
    assert [e.type for e in log.events("r1")] == ["subagent_start", "text_delta",
                                                  "subagent_end"]
    assert "lost 1 event(s)" in caplog.text and "refused by the test" in caplog.text


def test_a_database_that_fails_every_write_still_drains_and_reports(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    log = EventLog(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE subagent_events")
    sink = log.sink("r1")
    for _ in range(3):
        sink(TextDelta(path=PATH, agent="lead", text="hi"))
    log.close()
    assert log.lost == 3
    assert all("no such table" in e for e in log.errors)


SCRIPTED = """
from subagents import Agent
from subagents.testing import ScriptedChatModel, ai

def build():
    return Agent(name="lead", model=ScriptedChatModel(steps={"lead": [ai("lead says hi")]}))
"""


def test_cli_run_exits_1_when_the_event_log_lost_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.py").write_text(SCRIPTED)
    db = tmp_path / "state.db"
    refuse(db, "subagent_end")
    result = CliRunner().invoke(app, ["run", "team.py:build", "hi", "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert result.stdout.rstrip().endswith("lead says hi")  # the answer is still printed
    message = " ".join(result.stderr.split())
    assert re.search(r"the event log in \S+ lost 1 event\(s\) of run [0-9a-f]{32}", message)
    assert "refused by the test" in message


FAILING = """
from subagents import Agent
from subagents.testing import ScriptedChatModel

def build():
    return Agent(name="lead",
                 model=ScriptedChatModel(steps={"lead": [RuntimeError("model exploded")]}))
"""


def test_cli_reports_the_event_log_after_a_failed_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.py").write_text(FAILING)
    db = tmp_path / "state.db"
    refuse(db, "subagent_start")
    result = CliRunner().invoke(app, ["run", "team.py:build", "hi", "--db", str(db)])
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert message.index("the run failed: RuntimeError: model exploded") < message.index(
        "lost 1 event(s)"), message
