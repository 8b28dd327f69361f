"""``load_team``: a team file (YAML) or mapping -> the root :class:`~subagents.spec.Agent`.

Shape::

    root: dev                 # optional; default: the first agent
    agents:
      - name: dev
        description: Answers questions about the code base.
        prompt: |             # -> Agent.system_prompt
          You are ...
        model: local          # optional model string
        tools: [grep]         # built-in tools, "pkg.module:attr" and "server.tool" (teams._tools)
        subagents: [explore]  # allow list by agent name (itself / ancestors: cycles)
        output_schema: {type: object, properties: {...}, required: [...]}
        answer_check: paths_exist  # built-in answer check(s), a name or a list (BUILTIN_CHECKS)
        max_steps: 4
        tool_timeout: 30      # seconds per call of its tools (Agent.tool_timeout)
        loop_guard: {max_repeats: 3}  # -> Agent.loop_guard (LoopGuard); false or null: off
      - name: helper          # an own graph (Agent.from_graph; trusted files only):
        graph: "pkg.module:attr"  # a compiled graph / Runnable, or a function returning one

    mcp_servers:              # optional; name -> {command, args, env, cwd} or {url, headers}
      calc: {command: python, args: [calc_server.py]}

Agents are built as a tree from the root: an allow-list entry naming the agent itself or an
ancestor stays a name (the runtime bounds such cycles by depth), every other entry is built
as an ``Agent``; an agent reachable from two parents is built once and shared.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from subagents.errors import ModelResolutionError, TeamFileError
from subagents.models import parse_model_string
from subagents.spec import Agent
from subagents.teams._checks import check_entry_extras, check_max_files, settings_model
from subagents.teams._file import AGENT_RENAMES, LOADER_ONLY, AgentEntry, TeamFile
from subagents.teams._located import (
    MAX_TEAM_BYTES,
    Key,
    Source,
    check_plain,
    decode_team,
    load_yaml,
)
from subagents.teams._schema import SchemaError, model_from_json_schema
from subagents.teams._tools import TeamTools
from subagents.tools import MAX_WALK_ENTRIES
from subagents.tools.checks import BUILTIN_CHECKS, builtin_check, unknown_check

__all__ = ["AGENT_FIELDS", "load_team"]

AGENT_FIELDS: dict[str, str | None] = {
    field: None if field in LOADER_ONLY else AGENT_RENAMES.get(field, field)
    for field in AgentEntry.model_fields
}
"""Team-file field -> ``Agent`` field (derived from ``AgentEntry``): ``prompt`` and
``system_prompt`` both set ``system_prompt``; ``max_files`` (None) has no ``Agent`` field, it
bounds the built-in file tools; ``tools`` and ``answer_check`` name built-ins, built for the
team's root."""

_TOP_FIELDS = tuple(TeamFile.model_fields)
_BUILT_FIELDS = frozenset({"tools", "subagents", "output_schema", "input_schema",
                           "answer_check", "max_files", "budget", "background", "remote"})
"""Fields the builder turns into objects itself (the others go to ``Agent`` as they are)."""
_TO_AGENT = {key: field for key, field in AGENT_FIELDS.items() if field is not None}


def load_team(path_or_mapping: str | os.PathLike[str] | Mapping[str, Any], *,
              root: str | os.PathLike[str] | None = None, trusted: bool = True) -> Agent:
    """Load a team and return its root agent, ready for ``compile_agent``.

    Fields that run code named by the file: ``model: "python:pkg.module:attr"`` (it imports
    the module and calls ``attr`` when the agent is compiled), ``tools`` entries
    ``"pkg.module:attr"`` (imported at load) and ``mcp_servers`` with a ``command`` (started
    at load to list its tools, and once per tool call: see ``subagents.teams._tools``);
    ``answer_check`` names built-ins only. Files are bounded: at most ``MAX_TEAM_BYTES``,
    ``MAX_DEPTH`` levels and ``MAX_NODES`` values with aliases expanded
    (``subagents.teams``).

    Args:
        path_or_mapping: a YAML file path, or the already parsed mapping (same shape).
        root: the folder built-in tools are confined to; None: the current directory.
        trusted: False for a team from an untrusted source: a ``python:`` model (or any
            model string that does not parse), an import-path tool and a stdio MCP server
            are errors instead of imports and programs, and a ``remote:`` agent (tasks sent
            to a server the file names) is an error.

    Returns:
        The root ``Agent`` (its sub-agents nested, shared agents the same object).

    Raises:
        TeamFileError: (a ``SpecError``) the file is missing, too large, not UTF-8 or not
            YAML, or the team is invalid: unknown fields, tool names or agent names, duplicate
            names or keys, bad values, a JSON schema that cannot be converted, a refused
            ``python:`` model, a tool that fails to import or is no tool, an MCP server that
            fails to start (at its line) or has no such tool. The message starts with
            ``FILE:LINE:`` and names the agent, e.g.
            ``team.yaml:12: agent 'explore': unknown tool 'gerp' (valid: grep, ...)``;
            ``file`` and ``line`` hold the same.
    """
    if isinstance(path_or_mapping, Mapping):
        data: Any = path_or_mapping
        source = Source("<mapping>")
        check_plain(data, source.name)
    else:
        name = os.fspath(path_or_mapping)
        data, source = load_yaml(decode_team(_read(name), name), name)
    folder = Path.cwd() if root is None else Path(root)
    return _Builder(data, source, folder, trusted).build()


def _read(name: str) -> bytes:
    try:
        with open(name, "rb") as file:
            return file.read(MAX_TEAM_BYTES + 1)
    except OSError as exc:
        raise TeamFileError(name, None, f"cannot read the team file "
                            f"({exc.strerror or exc})") from exc


def _suggest(word: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(word, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (valid: {', '.join(valid)}){hint}"


class _Builder:
    def __init__(self, data: Any, source: Source, root: Path, trusted: bool) -> None:
        self.source = source
        self.root = root
        self.trusted = trusted
        self.entries: dict[str, tuple[int, Mapping[str, Any]]] = {}
        self.built: dict[str, Agent] = {}
        self.free: dict[str, frozenset[str]] = {}
        servers = data.get("mcp_servers") if isinstance(data, Mapping) else None
        self.tools = TeamTools(servers, source, root, trusted)
        self.root_name = self._check_top(data)

    # ------------------------------------------------------------------ static checks

    def _fail(self, path: tuple[Key, ...], message: str,
              agent: str | None = None) -> TeamFileError:
        prefix = f"agent {agent!r}: " if agent is not None else ""
        return self.source.error(path, prefix + message)

    def _check_top(self, data: Any) -> str:
        if not isinstance(data, Mapping):
            got = "an empty file" if data is None else type(data).__name__
            raise self._fail((), f"a team must be a mapping with 'agents:', got {got}")
        for key in data:
            if key not in _TOP_FIELDS:
                raise self._fail((str(key),), f"unknown field {key!r}"
                                 + _suggest(str(key), list(_TOP_FIELDS)))
        if data.get("max_files") is not None:
            check_max_files(data["max_files"], lambda text: self._fail(("max_files",), text))
        self.max_files: int = data.get("max_files") or MAX_WALK_ENTRIES
        agents = data.get("agents")
        if not isinstance(agents, list) or not agents:
            raise self._fail(("agents",), "'agents' must be a non-empty list of agents")
        for index, entry in enumerate(agents):
            self._check_entry(index, entry)
        for index, entry in self.entries.values():
            self._check_refs(index, entry)
        root = data.get("root", next(iter(self.entries)))
        if not isinstance(root, str):
            raise self._fail(("root",), f"'root' must be an agent name (a string), got "
                             f"{type(root).__name__}")
        if root not in self.entries:
            raise self._fail(("root",), f"root {root!r} is no agent"
                             + _suggest(str(root), sorted(self.entries)))
        return str(root)

    def _check_entry(self, index: int, entry: Any) -> None:
        if not isinstance(entry, Mapping):
            raise self._fail(("agents", index), f"an agent must be a mapping, got "
                             f"{type(entry).__name__}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise self._fail(("agents", index), "an agent needs a 'name' (a string)")
        if name in self.entries:
            first = self.source.at("agents", self.entries[name][0])
            raise self._fail(("agents", index, "name"), f"duplicate agent name (first at "
                             f"{first})", name)
        self.entries[name] = (index, entry)
        for key in entry:
            if key not in AGENT_FIELDS:
                raise self._fail(("agents", index, str(key)), f"unknown field {key!r}"
                                 + _suggest(str(key), sorted(AGENT_FIELDS)), name)
        for key in ("tools", "subagents"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._fail(("agents", index, key), f"field {key!r} must be a list of "
                                 f"names", name)
        check_entry_extras(entry, lambda path, text: self._fail(("agents", index, *path),
                                                                 text, name))
        self.tools.check(entry.get("tools", []), ("agents", index, "tools"), name)
        self._check_settings(index, name, entry)

    def _check_settings(self, index: int, name: str, entry: Mapping[str, Any]) -> None:
        check = entry.get("answer_check")
        bad = None if check is None else unknown_check(check)
        if bad is not None:
            checks = sorted(BUILTIN_CHECKS)
            raise self._fail(("agents", index, "answer_check"), f"unknown answer check "
                             f"{bad!r}" + _suggest(str(bad), checks), name)
        guard = entry.get("loop_guard", {})
        if guard is not None and guard is not False and not isinstance(guard, Mapping):
            raise self._fail(("agents", index, "loop_guard"), "field 'loop_guard' must be a "
                             "mapping such as {max_repeats: 3}, or false to turn it off", name)
        model = entry.get("model")
        if model is not None and not isinstance(model, str):
            raise self._fail(("agents", index, "model"), "field 'model' must be a model "
                             "string such as 'local' or 'openai:gpt-4o-mini'", name)
        if model is not None and not self.trusted:
            self._check_untrusted_model(index, name, model)
        if entry.get("remote") is not None and not self.trusted:
            raise self._fail(("agents", index, "remote"), "field 'remote' sends the agent's "
                             "tasks to a server the file names, refused in an untrusted team "
                             "file (load it with trusted=True only if you trust its source)",
                             name)
        graph = entry.get("graph")
        if graph is not None and (not isinstance(graph, str) or not self.trusted):
            raise self._fail(("agents", index, "graph"), "field 'graph' must be a "
                             "'package.module:attr' string" if self.trusted else
                             f"field 'graph': {graph!r} imports and runs Python code, refused "
                             "in an untrusted team file", name)

    def _check_untrusted_model(self, index: int, name: str, model: str) -> None:
        try:
            provider, _ = parse_model_string(model)
        except ModelResolutionError as exc:
            raise self._fail(("agents", index, "model"), f"field 'model': {exc}", name) from None
        if provider == "python":
            raise self._fail(("agents", index, "model"), f"field 'model': {model!r} imports "
                             "and runs Python code, refused in an untrusted team file "
                             "(load it with trusted=True only if you trust its source)", name)

    def _check_refs(self, index: int, entry: Mapping[str, Any]) -> None:
        for i, ref in enumerate(entry.get("subagents", [])):
            if ref not in self.entries:
                raise self._fail(("agents", index, "subagents", i), f"unknown agent {ref!r}"
                                 + _suggest(ref, sorted(self.entries)), entry["name"])

    # ------------------------------------------------------------------ building

    def build(self) -> Agent:
        return self._agent(self.root_name, (), None)

    def _agent(self, name: str, ancestors: tuple[str, ...],
               via: tuple[Key, ...] | None) -> Agent:
        if name in self.built:
            return self._shared(name, ancestors, via)
        index, entry = self.entries[name]
        refs, free = self._children(index, entry, (*ancestors, name))
        kwargs = self._kwargs(index, name, entry)
        kwargs["subagents"] = refs
        try:
            agent = Agent(**kwargs)
        except ValidationError as exc:
            raise self._validation(index, name, entry, exc) from None
        self.built[name] = agent
        self.free[name] = frozenset(free - {name})
        return agent

    def _shared(self, name: str, ancestors: tuple[str, ...],
                via: tuple[Key, ...] | None) -> Agent:
        """The agent ``name`` built already for another parent, if its allow lists fit here."""
        missing = sorted(self.free[name] - set(ancestors))
        if missing:
            assert via is not None
            raise self._fail(via, f"sub-agent {name!r} is shared with another parent, but "
                             f"its allow lists name {', '.join(map(repr, missing))}, which "
                             f"is no ancestor on this path ({' > '.join(ancestors)}); "
                             f"give the agents distinct names", ancestors[-1])
        return self.built[name]

    def _children(self, index: int, entry: Mapping[str, Any],
                  lineage: tuple[str, ...]) -> tuple[list[Agent | str], set[str]]:
        """The built sub-agents of an entry (names for cycles back up ``lineage``).

        Returns:
            The ``subagents`` list and the ancestor names their allow lists name.
        """
        refs: list[Agent | str] = []
        free: set[str] = set()
        for i, ref in enumerate(entry.get("subagents", [])):
            if ref in lineage:
                refs.append(ref)
                free.add(ref)
            else:
                child = self._agent(ref, lineage, ("agents", index, "subagents", i))
                refs.append(child)
                free |= self.free[ref]
        return refs, free

    def _kwargs(self, index: int, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        """``Agent`` keyword arguments of an entry, but ``subagents``."""
        kwargs: dict[str, Any] = {_TO_AGENT[k]: v for k, v in entry.items()
                                  if k not in _BUILT_FIELDS}
        if entry.get("loop_guard", {}) is False:
            kwargs["loop_guard"] = None
        max_files = entry.get("max_files") or self.max_files
        kwargs["tools"] = self.tools.build(entry.get("tools", []), max_files)
        if entry.get("answer_check") is not None:
            kwargs["answer_check"] = builtin_check(entry["answer_check"], self.root, max_files)
        for key in ("budget", "background", "remote"):
            if isinstance(entry.get(key), Mapping):
                kwargs[key] = settings_model(key, entry[key], lambda path, text: self._fail(
                    ("agents", index, *path), text, name))
            elif key in entry:
                kwargs[key] = entry[key]
        for key, suffix in (("output_schema", "Output"), ("input_schema", "Input")):
            if entry.get(key) is not None:
                kwargs[key] = self._schema(index, name, key, entry[key], suffix)
        return kwargs

    def _schema(self, index: int, name: str, key: str, schema: Any,
                suffix: str) -> type[BaseModel]:
        try:
            return model_from_json_schema(schema, _camel(name) + suffix)
        except SchemaError as exc:
            raise self._fail(("agents", index, key, *exc.path), f"field {key!r}: {exc}",
                             name) from None

    def _validation(self, index: int, name: str, entry: Mapping[str, Any],
                    exc: ValidationError) -> TeamFileError:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        fields = [k for k, v in AGENT_FIELDS.items() if loc and v == loc[0]]
        field = next((k for k in fields if k in entry), fields[0] if fields else None)
        path: tuple[Key, ...] = ("agents", index) if field is None else ("agents", index, field)
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix(f"agent {name!r}: ")
        text = message if field is None else f"field {field!r}: {message}"
        if field is not None and isinstance(error.get("input"), str | int | float | bool):
            text += f" (got {error['input']!r})"
        return self._fail(path, text, name)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))
