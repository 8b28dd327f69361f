"""The live record of a run.

Run scopes, calls, background tables and parking, budget trackers, the usage tree, event
streaming, and the sans-IO step drivers.

Import from the modules (``subagents.runtime.scope``, ``subagents.runtime.budget``, ...).
"""

__all__: list[str] = []
