"""``__all__`` of every public module, and the README's and docs' imports (issue 13, habits).

Like httpx's ``tests/test_exported_members.py``: every public module (no ``_``-prefixed part in
its dotted name) has an ``__all__`` that names every public name the module defines (a name
bound at its top level by ``def``, ``class`` or an assignment, without a leading underscore;
names it imports are not its own, though it may re-export them) and nothing it does not have.
And every ``from subagents... import X`` of a ``python`` block of the README and of the
documentation pages imports as written.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import subagents

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _public_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(subagents.__path__, "subagents.")]
    return ["subagents", *(n for n in names if not any(p.startswith("_") for p in n.split(".")))]


def _defined(module: ModuleType) -> set[str]:
    """Names the module binds at its top level other than by an import."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return {name for name in names if not name.startswith("_")}


def test_the_walk_finds_every_room() -> None:
    rooms = {name.split(".")[1] for name in _public_modules() if "." in name}
    assert {"cli", "dispatch", "graphs", "teams", "subgraphs", "nodes", "runtime", "spec",
            "tools", "models", "local", "checkpoints", "testing", "errors", "results",
            "events"} <= rooms


@pytest.mark.parametrize("name", _public_modules())
def test_all_lists_exactly_the_public_names_of_the_module(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{name} has no __all__ list"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = _defined(module) - set(exported)
    assert not missing, f"{name} defines public names missing from __all__: {sorted(missing)}"
    absent = [n for n in exported if not hasattr(module, n)]
    assert not absent, f"{name}.__all__ names what the module does not have: {absent}"


def _imports(page: Path) -> list[tuple[int, str]]:
    found = []
    for number, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1):
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            if any(module.split(".")[0] == "subagents" for module in modules):
                found.append((number, ast.unparse(node)))
    return found


def test_the_readme_and_docs_import_from_subagents() -> None:
    assert len(_imports(REPO / "README.md")) >= 3
    assert sum(len(_imports(page)) for page in PAGES) >= 20


@pytest.mark.parametrize("page", [p for p in PAGES if _imports(p)],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_import_of_the_pages_python_blocks_works(page: Path) -> None:
    for number, line in _imports(page):
        try:
            exec(compile(line, f"{page.name}[{number}]", "exec"), {})
        except ImportError as exc:
            raise AssertionError(f"{page.name} python block {number}: {line}: {exc}") from exc
