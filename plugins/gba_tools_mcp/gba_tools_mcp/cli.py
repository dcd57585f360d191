"""``gba mcp``: the configured MCP servers and their tools."""

from __future__ import annotations

import time
from typing import Any

import click

from gba_core.cli_listings import echo_json, make_console

from . import catalog, settings
from .tools import gba_name, schema_problem


@click.group()
def mcp() -> None:
    """MCP servers: list them with their state and tools, refresh the cached tool lists."""


def _show(refresh: bool, as_json: bool) -> None:
    configured = settings.load()
    rows: list[dict[str, Any]] = []
    for server in configured.servers:
        found = catalog.listing(server, configured.cache_ttl, refresh=refresh)
        rows.append(
            {
                "server": server.name,
                "transport": server.transport,
                "where": server.where(),
                "error": found.error,
                "listed_seconds_ago": round(time.time() - found.fetched, 1),
                "tools": [
                    {
                        "name": gba_name(server, spec.name),
                        "mcp_name": spec.name,
                        "unavailable": schema_problem(spec),
                    }
                    for spec in found.tools or ()
                ],
            }
        )
    if as_json:
        echo_json(rows)
        return
    console = make_console()
    if not rows:
        console.print("No MCP servers configured: add [mcp.servers.NAME] to gba.toml.")
    for row in rows:
        state = f"[red]{row['error']}[/]" if row["error"] else f"{len(row['tools'])} tools"
        console.print(f"[bold]{row['server']}[/] ({row['transport']}: {row['where']}): {state}")
        for tool in row["tools"]:
            note = f"  [yellow]unavailable: {tool['unavailable']}[/]" if tool["unavailable"] else ""
            console.print(f"  {tool['name']}{note}")


@mcp.command("servers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def servers(as_json: bool) -> None:
    """List the configured servers, their state and their tools (from the cache while
    it is fresh)."""
    _show(refresh=False, as_json=as_json)


@mcp.command("refresh")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def refresh(as_json: bool) -> None:
    """Ask every server for its tools now and update the cache."""
    _show(refresh=True, as_json=as_json)
