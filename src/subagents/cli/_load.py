"""Resolve the CLI's TEAM argument: a YAML file, or ``module:attr`` naming a Python team."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from subagents.errors import SpecError
from subagents.spec import Agent
from subagents.teams import load_team

__all__ = ["load_team_ref"]

_YAML = (".yaml", ".yml")


def load_team_ref(ref: str, *, root: Path, trusted: bool = True) -> Agent:
    """Load the team a CLI argument names.

    Args:
        ref: ``team.yaml`` (a YAML team file), ``pkg.module:attr`` or ``path/file.py:attr``.
            ``attr`` is an ``Agent`` or a function returning one; a function that has a
            ``root`` parameter is called with ``root=root``, else with no arguments.
        root: the folder built-in tools are confined to.
        trusted: False: only a YAML file is accepted, loaded with ``load_team(...,
            trusted=False)`` (no ``python:`` models); a ``module:attr`` is refused.

    Returns:
        The root agent.

    Raises:
        SpecError: the file or module is missing, the attribute is not an ``Agent`` (or a
            function returning one), the team is invalid, or ``trusted`` is False and
            ``ref`` names Python code.
    """
    path = Path(ref)
    if path.suffix.lower() in _YAML or (path.is_file() and path.suffix != ".py"):
        return load_team(path, root=root, trusted=trusted)
    if not trusted:
        raise SpecError(f"{ref}: an untrusted team must be a YAML file (.yaml/.yml); "
                        "'module:attr' runs Python code")
    module_name, sep, attr = ref.rpartition(":")
    if not sep or not module_name or not attr:
        msg = (f"{ref}: TEAM must be a YAML file (.yaml/.yml) or 'module:attr' naming an Agent "
               "(e.g. examples/team.py:build_team)")
        raise SpecError(msg)
    module = _module(module_name)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SpecError(f"{ref}: module {module_name!r} has no attribute {attr!r}") from None
    if callable(obj) and not isinstance(obj, Agent):
        params = inspect.signature(obj).parameters
        obj = obj(root=root) if "root" in params else obj()
    if not isinstance(obj, Agent):
        raise SpecError(f"{ref}: expected an Agent (or a function returning one), "
                        f"got {type(obj).__name__}")
    return obj


def _module(name: str) -> ModuleType:
    try:
        if name.endswith(".py") or "/" in name or "\\" in name:
            return _from_file(Path(name))
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(name)
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(f"{name}: cannot import the team module ({type(exc).__name__}: "
                        f"{exc})") from exc


def _from_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise SpecError(f"{path}: no such Python file")
    name = f"_subagents_team_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"{path}: cannot load it as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader: Any = spec.loader
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
