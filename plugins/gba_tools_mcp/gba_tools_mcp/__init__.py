"""gba-tools-mcp: the tools of MCP servers as gba tools, each with a derived twin.

The servers come from gba.toml's ``[mcp]`` table or an ``mcpServers`` JSON file
(``settings``). Each server's tool list is cached (``catalog``); a server that cannot be
reached leaves its tools out with a one-line warning and never stops gba.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gba_core import hookimpl

if TYPE_CHECKING:
    from gba_core.tools import SimulatedTool, Tool

    from .catalog import ToolSpec
    from .settings import ServerConfig

_warned: set[str] = set()


def _listed() -> list[tuple[ServerConfig, ToolSpec]]:
    # Imported here, not at the top: `gba --help` loads this module for its commands
    # and must stay light.
    from gba_core.errors import GbaError
    from gba_core.tools import TOOL_NAME

    from . import catalog, settings
    from .tools import gba_name

    configured = settings.load()
    found: list[tuple[ServerConfig, ToolSpec]] = []
    names: set[str] = set()
    for server in configured.servers:
        try:
            listing = catalog.listing(server, configured.cache_ttl)
        except GbaError as exc:  # e.g. a ${VAR} that is not set: this server only
            _warn(f"MCP server {server.name!r}: {exc}; its tools are left out")
            continue
        if listing.error is not None:
            _warn(f"{listing.error}; its tools are left out (`gba mcp servers`)")
            continue
        for spec in listing.tools or ():
            name = gba_name(server, spec.name)
            if not TOOL_NAME.match(name) or name in names:
                why = (
                    "is taken" if name in names else "is not a lower_snake_case name of 64 at most"
                )
                _warn(f"MCP server {server.name!r}: tool {spec.name!r} left out: {name!r} {why}")
                continue
            names.add(name)
            found.append((server, spec))
    return found


def _warn(message: str) -> None:
    """One line on stderr, once per process: a broken server never stops gba."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    from .tools import McpTool

    for server, spec in _listed():
        register(McpTool(server, spec))


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    from .tools import SimulatedMcpTool

    for server, spec in _listed():
        register(SimulatedMcpTool(server, spec))


@hookimpl
def register_commands(cli: Any) -> None:
    from gba_core.cli import LazyCommand

    help = "MCP servers: list them with their state and tools, refresh the cached tool lists."
    cli.add_command(LazyCommand("mcp", "gba_tools_mcp.cli:mcp", help))
    help = "Serve gba to other programs: `gba serve mcp` runs the agent as an MCP server."
    cli.add_command(LazyCommand("serve", "gba_tools_mcp.serve:serve", help))
