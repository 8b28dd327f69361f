"""Every exception class of the package derives from ``SubagentsError`` (issue 13, habits).

The package is walked with ``pkgutil`` (every module imported), and every class whose
``__module__`` is a ``subagents`` module and that is a ``BaseException`` is checked, private
ones included: a caller can catch everything this package raises with one ``except``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest
from langgraph.errors import EmptyInputError
from langgraph.types import RetryPolicy

import subagents
from subagents.errors import (
    LocalModelError,
    MCPServerError,
    ModelEndpointError,
    ModelResolutionError,
    NothingToResume,
    SpecError,
    SubagentsError,
    TeamFileError,
)
from subagents.nodes.retry import SubagentFailed, SubagentTimeout
from subagents.results import Status
from subagents.tools import mcp


def _modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(subagents.__path__, "subagents.")]
    return [subagents, *(importlib.import_module(name) for name in names)]


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (issubclass(value, BaseException) and value.__module__.startswith("subagents")
                    and value.__module__ == module.__name__):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_the_walk_finds_the_exceptions_of_every_layer() -> None:
    names = {cls.__name__ for cls in _exception_classes()}
    # one of each room, so a walk that silently found nothing cannot pass the next test
    assert {"SpecError", "DeliveryError", "Stopped", "ToolTimeout", "RemoteAgentError",
            "ScriptExhaustedError", "SchemaError", "ToolPathError", "OverBudget"} <= names


@pytest.mark.parametrize("cls", _exception_classes(),
                         ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_exception_of_the_package_is_a_subagents_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, SubagentsError), (
        f"{cls.__module__}.{cls.__qualname__} does not derive from SubagentsError")


@pytest.mark.parametrize(("cls", "standard"), [
    (SpecError, ValueError), (TeamFileError, ValueError), (ModelResolutionError, ValueError),
    (ModelEndpointError, RuntimeError), (LocalModelError, RuntimeError),
    (MCPServerError, RuntimeError), (NothingToResume, ValueError),
    (NothingToResume, EmptyInputError),
])
def test_public_errors_keep_the_standard_base_callers_catch(
        cls: type[BaseException], standard: type[BaseException]) -> None:
    assert issubclass(cls, standard)


def test_mcp_server_error_is_the_one_of_the_tools_module() -> None:
    assert mcp.MCPServerError is MCPServerError


def test_a_failed_attempt_is_still_retried_by_langgraphs_default() -> None:
    retry_on = RetryPolicy().retry_on  # LangGraph's default_retry_on
    assert callable(retry_on)
    assert retry_on(SubagentFailed(Status.FAILED, "boom"))
    assert retry_on(SubagentTimeout(Status.TIMEOUT, None))
