"""``BackgroundConfig.dispatcher`` is typed by what the runtime calls on it (issue 13, layers).

The spec layer cannot import ``subagents.dispatch`` (a higher layer), so it names the calls in
the ``JobDispatcher`` protocol; ``Dispatcher`` is one, and anything else is refused when the
config is built.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from subagents import Agent
from subagents.dispatch import Dispatcher
from subagents.spec import BackgroundConfig, Handler, JobDispatcher
from subagents.testing import ScriptedChatModel, ai


def test_the_dispatcher_is_a_job_dispatcher_and_is_accepted(tmp_path: Path) -> None:
    worker = Agent(name="worker", model=ScriptedChatModel(steps={"worker": [ai("done")]}))
    dispatcher = Dispatcher(tmp_path / "jobs.sqlite", [worker])
    assert isinstance(dispatcher, JobDispatcher)
    config = BackgroundConfig(deliver=Handler(name="h"), dispatcher=dispatcher)
    assert config.dispatcher is dispatcher


def test_an_object_that_is_no_dispatcher_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="dispatcher"):
        BackgroundConfig(deliver=Handler(name="h"), dispatcher=object())


def test_deliver_still_needs_a_dispatcher() -> None:
    with pytest.raises(ValidationError, match="field 'deliver' needs a 'dispatcher'"):
        BackgroundConfig(deliver=Handler(name="h"))
