"""The import contract of pyproject.toml covers the whole package (issue 13, layers).

``make lint`` runs ``lint-imports`` on ``[tool.importlinter]``; import-linter has no
"private module" contract, so each room with private modules (``_x``) has a ``forbidden``
contract listing them. These tests keep those lists and the layers complete as modules are
added: a new private module or room that no contract names fails here.
"""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path
from typing import Any

import subagents

REPO = Path(__file__).resolve().parents[1]
CONTRACTS: list[dict[str, Any]] = tomllib.loads(
    (REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(subagents.__path__, "subagents.")]


def _private() -> set[str]:
    return {m for m in _modules()
            if any(part.startswith("_") for part in m.split(".")[2:])}


def _rooms() -> set[str]:
    return {".".join(m.split(".")[:2]) for m in _modules()}


def _contract(name: str) -> dict[str, Any]:
    return next(c for c in CONTRACTS if c["name"] == name)


def test_every_room_is_in_a_layer() -> None:
    (layers,) = [c for c in CONTRACTS if c["type"] == "layers"]
    named = {room for layer in layers["layers"] for room in re.split(r"\s*[|:]\s*", layer)}
    assert named == _rooms()


def test_the_spec_may_not_import_the_runtime() -> None:
    contract = _contract("The spec (configuration) imports nothing of the runtime (the live run)")
    assert contract["type"] == "forbidden"
    assert contract["source_modules"] == ["subagents.spec"]
    assert contract["forbidden_modules"] == ["subagents.runtime"]
    assert not contract.get("allow_indirect_imports", False)


def test_every_private_module_is_forbidden_outside_its_room() -> None:
    private = _private()
    assert "subagents.nodes._toolcall" in private  # the walk found them
    root = _contract("The package root imports no private module")
    assert set(root["forbidden_modules"]) == private
    for room in {".".join(m.split(".")[:2]) for m in private}:
        contract = _contract(f"Only {room} imports its private modules")
        assert set(contract["forbidden_modules"]) == {
            m for m in private if m.startswith(room + ".")}, room
        assert set(contract["source_modules"]) == _rooms() - {room}, room


def test_each_private_module_exception_is_a_real_import() -> None:
    # an ignore_imports line that no longer matches an import must go
    for contract in CONTRACTS:
        for line in contract.get("ignore_imports", []):
            importer, imported = (part.strip() for part in line.split("->"))
            source = Path(subagents.__file__).parent.joinpath(
                *importer.split(".")[1:]).with_suffix(".py").read_text()
            assert re.search(rf"^from {re.escape(imported)} import ", source, re.M), line
