"""The team-file reference, generated from its JSON Schema: markdown tables and the schema file.

Regenerate both after changing ``subagents.teams._file``::

    PYTHONPATH=src python -m subagents.teams._reference

It rewrites ``src/subagents/teams/team.schema.json`` and the part of ``docs/team-files.md``
between ``BEGIN`` and ``END`` (tests fail while either is out of date).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from subagents.teams._file import team_json_schema

__all__ = ["BEGIN", "END", "SCHEMA_FILE", "reference_markdown", "schema_text", "update_page"]

BEGIN = "<!-- BEGIN team-file reference (generated: python -m subagents.teams._reference) -->"
END = "<!-- END team-file reference -->"
SCHEMA_FILE = Path(__file__).with_name("team.schema.json")
REGENERATE = "PYTHONPATH=src python -m subagents.teams._reference"
_SECTIONS = (
    ("Top level", None),
    ("Agent fields (`agents:` entries)", "AgentEntry"),
    ("`budget:`", "Budget"),
    ("`background:` (or `true` / `false`)", "BackgroundEntry"),
    ("`remote:`", "RemoteEntry"),
    ("`retry:`", "RetryEntry"),
    ("`loop_guard:` (or `false`)", "LoopGuard"),
    ("`first_call:`", "FirstCall"),
    ("`mcp_servers:` entries, stdio", "McpStdioServer"),
    ("`mcp_servers:` entries, streamable HTTP", "McpHttpServer"),
)


def schema_text() -> str:
    """The JSON Schema as ``team.schema.json`` holds it (2-space indents, final newline)."""
    return json.dumps(team_json_schema(), indent=2) + "\n"


def reference_markdown() -> str:
    """Markdown tables of every team-file field: name, type, default, description."""
    schema = team_json_schema()
    parts: list[str] = []
    for title, name in _SECTIONS:
        node = schema if name is None else schema["$defs"][name]
        parts += [f"### {title}", "", "| field | type | default | description |",
                  "|---|---|---|---|"]
        required = set(node.get("required", []))
        for field, prop in node["properties"].items():
            default = "required" if field in required else _default(prop)
            text = " ".join(str(prop.get("description", "")).split())
            text = text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f"| `{field}` | {_type(prop)} | {default} | {text} |")
        parts.append("")
    return "\n".join(parts)


def update_page(page: str) -> str:
    """``page`` with its generated section replaced by :func:`reference_markdown`.

    Raises:
        ValueError: the page lacks the ``BEGIN`` / ``END`` markers.
    """
    head, sep, rest = page.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the page has no {BEGIN!r} ... {END!r} section")
    return f"{head}{BEGIN}\n\n{reference_markdown()}\n{END}{tail}"


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"`{prop['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop and prop.get("type") != "array":
        return " / ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping of name to {_type(prop['additionalProperties'])}"
    return "mapping" if kind == "object" else str(kind)


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop or prop["default"] in (None, [], ""):
        return ""
    return f"`{json.dumps(prop['default'])}`"


def main(argv: list[str]) -> int:
    """Rewrite the schema file and the docs page (``argv[0]``: the page; default the repo's)."""
    page = Path(argv[0]) if argv else Path(__file__).parents[3] / "docs" / "team-files.md"
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    page.write_text(update_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE} and {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
