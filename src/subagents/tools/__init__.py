"""Built-in tools agents can name in a team file (read-only filesystem access)."""

from subagents.tools.fs import (
    BUILTIN_TOOLS,
    builtin_tool,
    filesystem_tools,
    grep_tool,
    list_files_tool,
    read_file_tool,
)

__all__ = [
    "BUILTIN_TOOLS",
    "builtin_tool",
    "filesystem_tools",
    "grep_tool",
    "list_files_tool",
    "read_file_tool",
]
