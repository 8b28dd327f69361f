"""Built-in tools and answer checks agents can name in a team file.

Tools: read-only filesystem access; answer checks: ``paths_exist``, ``grounded`` (combine
them with ``all_checks``); ``with_timeout(tool, s)``
limits any tool's calls (also ``subagents.with_timeout``).
"""

from subagents.nodes.tools import with_timeout
from subagents.tools._check import paths_exist
from subagents.tools._grounded import all_checks, grounded
from subagents.tools._paths import MAX_WALK_ENTRIES
from subagents.tools.checks import BUILTIN_CHECKS, builtin_check
from subagents.tools.find import find_tool
from subagents.tools.fs import (
    BUILTIN_TOOLS,
    builtin_tool,
    filesystem_tools,
    grep_tool,
    list_files_tool,
    read_file_tool,
)

__all__ = [
    "BUILTIN_CHECKS",
    "BUILTIN_TOOLS",
    "MAX_WALK_ENTRIES",
    "all_checks",
    "builtin_check",
    "builtin_tool",
    "filesystem_tools",
    "find_tool",
    "grep_tool",
    "grounded",
    "list_files_tool",
    "paths_exist",
    "read_file_tool",
    "with_timeout",
]
