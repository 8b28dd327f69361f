"""Every Python snippet of the README and of the documentation site runs as written.

The blocks of one page run in order in one namespace (a later block may use an earlier one's
names), in a temporary working directory. Model strings resolve to a scripted model that
answers "done" (no key, no network): a snippet that names ``openai:...`` runs like one that
passes a ``ScriptedChatModel``. A page's prose is not checked here; ``make docs`` builds the
site with ``--strict`` (broken links and references fail).
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel

import subagents.models as models
from subagents.testing import ScriptedChatModel, ai

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def scripted(value: str) -> BaseChatModel:
    return ScriptedChatModel(policy=lambda messages, agent: ai("done"))


def test_the_site_has_the_pages_the_nav_names() -> None:
    nav = (REPO / "mkdocs.yml").read_text()
    named = set(re.findall(r"(\S+\.md)", nav))
    pages = {p.name for p in PAGES if p.parent == REPO / "docs"}
    assert named == pages, (named - pages, pages - named)


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_snippet_of_the_page_runs(page: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "model_from_string", scripted)
    module = types.ModuleType(f"snippets_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # type hints resolve in it
    for number, code in enumerate(blocks(page), 1):
        try:
            exec(compile(code, f"{page.name}[{number}]", "exec"), module.__dict__)
        except Exception as exc:
            raise AssertionError(f"{page.name}: python block {number} failed: {exc!r}") from exc
    capsys.readouterr()
