"""gba: plugin-based LLM agents whose planner picks the next task and tool."""

from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "gba"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

try:
    __version__ = version("gba-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
