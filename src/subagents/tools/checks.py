"""The built-in answer checks by name: what a team file's ``answer_check:`` may name.

``paths_exist`` (no invented file paths) and ``grounded`` (no claim that no tool result
supports); a list of names combines them with :func:`~subagents.tools.all_checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from subagents.errors import SpecError
from subagents.spec import AnswerCheck
from subagents.tools._check import paths_exist
from subagents.tools._grounded import all_checks, grounded
from subagents.tools._paths import MAX_WALK_ENTRIES

__all__ = ["BUILTIN_CHECKS", "builtin_check", "unknown_check"]


def _grounded(root: Path, max_files: int) -> AnswerCheck:
    return grounded()


BUILTIN_CHECKS: dict[str, Callable[[Path, int], AnswerCheck]] = {
    "grounded": _grounded, "paths_exist": paths_exist}
"""Built-in answer-check factories by name (``answer_check:`` in a team file, one name or a
list); each takes the root the agent's file tools are confined to and ``max_files``
(``grounded`` ignores both)."""


def builtin_check(name: str | Sequence[str], root: str | Path,
                  max_files: int = MAX_WALK_ENTRIES) -> AnswerCheck:
    """Build the built-in answer check called ``name`` for ``root``.

    Args:
        name: a name of ``BUILTIN_CHECKS``, or a list of names: all of them must accept
            the answer (``subagents.tools.all_checks``).
        root: the folder the agent's file tools are confined to.
        max_files: caps the directory entries one definition lookup walks.

    Returns:
        The answer check (an ``Agent.answer_check``).

    Raises:
        SpecError: a name is unknown (the message lists the valid names), the list is empty,
            or ``root`` is not an existing directory.
    """
    names = [name] if isinstance(name, str) else list(name)
    bad = unknown_check(names)
    if bad is not None:
        valid = ", ".join(sorted(BUILTIN_CHECKS))
        raise SpecError(f"unknown answer check {bad!r}; valid names: {valid}")
    checks = [BUILTIN_CHECKS[n](Path(root), max_files) for n in names]
    if len(checks) == 1:
        return checks[0]
    return all_checks(*checks)


def unknown_check(value: object) -> object | None:
    """The first invalid entry of an ``answer_check`` value, or None when it is valid.

    A valid value is a name of ``BUILTIN_CHECKS`` or a non-empty list of them; a value of
    another shape is returned itself.
    """
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        return value
    return next((n for n in names if not isinstance(n, str) or n not in BUILTIN_CHECKS), None)
