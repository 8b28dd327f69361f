"""A module that fails on import (a team file's import-path tool must say so)."""

raise RuntimeError("broken on purpose")
