"""The ``gba`` commands that list what is installed: tools, planners, plugins, LLMs."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click


def make_console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# Escape sequences (CSI, OSC and the rest) and C0/C1 control characters other than tab
# and newline: what a tool prints could retitle the terminal or recolour it.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, links
    r"|\x1b[@-_]?"  # other two-byte escapes, or a lone ESC
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def terminal_text(text: str) -> str:
    """Model or tool text made safe for a terminal and for rich: control sequences
    removed, markup escaped. ``--json`` and the database keep the raw text."""
    from rich.markup import escape

    return escape(_CONTROL.sub("", text))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tools(as_json: bool) -> None:
    """List installed tools with their plugin, real and simulated sides; flag missing twins
    and real tools that cannot work as configured (the planner is not offered those)."""
    from gba_core.config import env_flag
    from gba_core.registry import load_toolset
    from gba_core.tools import ToolOptions, offered_tools

    toolset = load_toolset()
    missing = toolset.missing_twins()
    _, unavailable = offered_tools(
        toolset.real,
        interactive=sys.stdin.isatty(),
        options=ToolOptions(allow_bash=env_flag("GBA_ALLOW_BASH")),
    )
    rows = [
        {
            "name": name,
            "plugin": toolset.origins.get((name, "real"))
            or toolset.origins.get((name, "simulated")),
            "source": (toolset.real.get(name) or toolset.simulated[name]).source or None,
            "real": name in toolset.real,
            "simulated": name in toolset.simulated,
            "missing": missing.get(name),
            "unavailable": unavailable.get(name),
            "description": toolset.description(name),
        }
        for name in toolset.names
    ]
    if as_json:
        echo_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table("name", "plugin", "real", "simulated", "description")
    for row in rows:

        def mark(side: str, row: dict[str, Any] = row) -> str:
            if not row[side]:
                return "[bold red]MISSING[/]"
            if side == "real" and row["unavailable"]:
                return "[yellow]unavailable[/]"
            return "yes"

        table.add_row(
            str(row["name"]),
            str(row["plugin"] or "") + (f": {row['source']}" if row["source"] else ""),
            mark("real"),
            mark("simulated"),
            str(row["description"]),
        )
    console = make_console()
    console.print(table)
    for name, reason in unavailable.items():
        console.print(f"[yellow]{name} is not offered to the planner: {escape(reason)}[/]")
    if missing:
        console.print(f"[red]{len(missing)} tool(s) without a twin: {', '.join(missing)}[/]")
    from gba_core.plugins import list_plugins

    # A tool that is not listed most often comes from a plugin that did not load.
    if failed := [info.name for info in list_plugins() if info.error]:
        console.print(
            f"[yellow]{len(failed)} plugin(s) failed: {', '.join(failed)};"
            " `gba plugins` says why[/]"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def planners(as_json: bool) -> None:
    """List planners and shipped planner models, and which one `gba run` uses and why.

    A shipped planner is the default when it knows every installed tool and no model is
    configured for the planner role (--planner-llm, GBA_PLANNER_LLM, gba.toml). Real
    tools' LLM calls then use the tool-role adapter shipped with it, unless a model is
    configured for the tool role.
    """
    from gba_core.config import llm_spec_for
    from gba_core.registry import load_toolset, planner_factories, shipped_planners
    from gba_core.shipped import choose_planner, choose_tool_llm

    names = load_toolset().real
    shipped = shipped_planners()
    spec, source = llm_spec_for("planner")
    choice = choose_planner(None, spec, source, names, shipped)
    tool_llm = choose_tool_llm(*llm_spec_for("tool"), choice)
    models = [
        {
            "name": s.name,
            "planner": s.manifest.planner,
            "base": s.manifest.base_llm,
            "adapter": str(s.adapter_path),
            "tools": sorted(s.manifest.tools),
            "unknown_installed_tools": s.unknown_tools(names),
            "heldout_next_tool_accuracy": s.manifest.heldout.next_tool_accuracy,
            "tool_roles_adapter": s.tool_llm_spec(),
            "tool_roles_heldout_accuracy": (
                s.manifest.tool_roles.heldout_accuracy if s.manifest.tool_roles else None
            ),
            "built": s.manifest.built.isoformat(),
        }
        for s in shipped.values()
    ]
    default = {
        "planner": choice.planner,
        "llm": choice.llm_spec,
        "why": choice.reason,
        "tool_llm": tool_llm,
    }
    if as_json:
        echo_json({"planners": sorted(planner_factories()), "shipped": models, "default": default})
        return
    from rich.markup import escape
    from rich.table import Table

    console = make_console()
    console.print(f"planners: {', '.join(sorted(planner_factories()))}")
    table = Table("shipped", "planner", "base", "held-out next tool", "unknown installed tools")
    for row in models:
        unknown = row["unknown_installed_tools"]
        table.add_row(
            str(row["name"]),
            str(row["planner"]),
            str(row["base"]),
            f"{row['heldout_next_tool_accuracy']:.3f}",
            ", ".join(unknown if isinstance(unknown, list) else []) or "none",
        )
    console.print(table)
    console.print(f"[bold]default:[/] {choice.planner} on {escape(choice.llm_spec)}")
    console.print(f"  why: {escape(choice.reason)}")
    console.print(f"[bold]real tools' LLM calls:[/] {escape(tool_llm)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--traceback", "show_traceback", is_flag=True, help="Print the traceback of each failure."
)
def plugins(as_json: bool, show_traceback: bool) -> None:
    """List plugins: distribution, version, hooks, and why any failed to load.

    A plugin that fails is skipped and the rest still work. Its row names the entry
    point, the exception and a likely cause; --traceback adds the whole traceback.
    GBA_TRACE_PLUGINS=1 traces every entry-point load and hook call on stderr.
    """
    from dataclasses import asdict

    from gba_core.plugins import list_plugins

    infos = list_plugins()
    if as_json:
        echo_json([asdict(info) for info in infos])
        return
    from rich.markup import escape
    from rich.table import Table

    console = make_console()
    table = Table("name", "distribution", "version", "hooks", "status")
    for info in infos:
        dist = "(built-in)" if info.builtin else info.distribution or ""
        status = f"[red]failed ({info.failed_in})[/]" if info.error else "ok"
        table.add_row(info.name, dist, info.version or "", ", ".join(info.hooks), status)
    console.print(table)
    # Failures go below the table, one unwrapped paragraph each: a table cell would
    # break the exception text wherever the terminal is narrow.
    failed = [info for info in infos if info.error]
    for info in failed:
        where = f"entry point {info.entry_point}: " if info.entry_point else ""
        line = f"\n[bold red]{escape(info.name)}[/] {escape(where + (info.error or ''))}"
        console.print(line, soft_wrap=True)
        console.print(f"  {escape(info.hint or '')}", soft_wrap=True)
        if show_traceback:
            console.print(escape(info.traceback or ""), end="", soft_wrap=True)
    if failed and not show_traceback:
        console.print(f"\n{len(failed)} failed; `gba plugins --traceback` shows where.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def llms(as_json: bool) -> None:
    """List LLM backends and the model each role resolves to."""
    from gba_core.config import ROLES, llm_spec_for
    from gba_core.registry import llm_backends

    backends = llm_backends()
    roles = {role: llm_spec_for(role) for role in ROLES}
    if as_json:
        echo_json(
            {
                "backends": {p: b.help for p, b in backends.items()},
                "roles": {r: {"llm": s, "from": src} for r, (s, src) in roles.items()},
            }
        )
        return
    from rich.markup import escape
    from rich.table import Table

    console = make_console()
    table = Table("prefix", "description")
    for prefix, backend in backends.items():
        table.add_row(escape(prefix), escape(backend.help))
    console.print(table)
    table = Table("role", "llm", "from")
    for role, (spec, source) in roles.items():
        table.add_row(role, spec, source)
    console.print(table)
