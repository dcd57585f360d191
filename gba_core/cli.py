"""The ``gba`` command line. Plugins add their own commands through ``register_commands``."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click

from gba_core import __version__
from gba_core.authoring import install, plugin_group, uninstall
from gba_core.errors import GbaError


class UsageFailure(click.ClickException):
    """One line on stderr, exit status 2 (bad input, never a traceback)."""

    exit_code = 2


class GbaGroup(click.Group):
    """Adds plugin commands lazily, and turns ``GbaError`` into ``UsageFailure``."""

    _plugin_commands_for: object = None

    def _ensure_plugin_commands(self) -> None:
        from gba_core import plugins

        pm = plugins.get_plugin_manager()
        if self._plugin_commands_for is not pm:
            self._plugin_commands_for = pm
            plugins.add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._ensure_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._ensure_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GbaError as exc:
            raise UsageFailure(str(exc)) from exc


@click.group(cls=GbaGroup)
@click.version_option(__version__, prog_name="gba")
def cli() -> None:
    """gba: LLM agents whose planner writes the next task and picks a tool.

    Tools, simulated tools, planners, LLM backends and commands come from installed
    plugins (see `gba plugins`). Every role defaults to the embedded Gemma 3 270M model;
    point a role elsewhere with --llm / --planner-llm / --tool-llm, GBA_<ROLE>_LLM, or a
    gba.toml [llm] table.
    """


def _at_least_one(param: click.Parameter, value: int) -> int:
    # A ClickException rather than click's BadParameter: one line, without the usage block.
    if value < 1:
        raise UsageFailure(f"--{param.name.replace('_', '-')} must be at least 1, got {value}")
    return value


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@cli.command()
@click.argument("request")
@click.option(
    "--planner",
    default=None,
    help="Planner name: zero-shot, fine-tuned, ... (default: the shipped fine-tuned "
    "planner when it knows every installed tool, else zero-shot; see `gba planners`).",
)
@click.option(
    "--llm",
    "llm_all",
    metavar="SPEC",
    help="LLM for every role, e.g. llama-cpp:gemma-3-270m or openai:MODEL.",
)
@click.option("--planner-llm", metavar="SPEC", help="LLM of the planner (overrides --llm).")
@click.option(
    "--tool-llm",
    metavar="SPEC",
    help="LLM that real tools use to fill arguments and write answers.",
)
@click.option(
    "--simulator-llm", metavar="SPEC", help="LLM that plays the simulated twins (with --simulated)."
)
@click.option(
    "--max-steps",
    type=int,
    callback=lambda ctx, param, value: _at_least_one(param, value),
    default=10,
    show_default=True,
    help="Give up after this many steps without a final answer.",
)
@click.option(
    "--simulated",
    is_flag=True,
    help="Use the simulated twins (answered by the simulator LLM) instead of real tools.",
)
@click.option("--seed", type=int, default=None, help="Seed for tools' random choices.")
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file caching LLM calls: a re-run replays instead of recomputing.",
)
@click.option(
    "--allow-bash",
    is_flag=True,
    envvar="GBA_ALLOW_BASH",
    help="Let use_bash run commands without asking (they still run sandboxed).",
)
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Whether tools may ask on the terminal (default: when stdin is a terminal).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The user's date, YYYY-MM-DD (default: the local date).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole trajectory as JSON.")
def run(
    request: str,
    planner: str | None,
    llm_all: str | None,
    planner_llm: str | None,
    tool_llm: str | None,
    simulator_llm: str | None,
    max_steps: int,
    simulated: bool,
    seed: int | None,
    cache_path: str | None,
    allow_bash: bool,
    interactive: bool | None,
    today: Any,
    as_json: bool,
) -> None:
    """Answer REQUEST with the agent, printing each step's task, tool and result."""
    from gba_core.agent import Agent
    from gba_core.config import llm_spec_for
    from gba_core.llm import get_llm
    from gba_core.planners import planner_factory
    from gba_core.shipped import choose_planner
    from gba_core.tools import load_toolset, offered_tools

    if not request.strip():
        raise UsageFailure("the request is empty")
    if planner is not None:
        planner_factory(planner)  # before any model loads: a typo fails fast
    choices = {
        "default": llm_all,
        "planner": planner_llm,
        "tool": tool_llm,
        "simulator": simulator_llm,
    }
    if simulated and tool_llm:
        raise UsageFailure("--tool-llm applies to real tools; with --simulated use --simulator-llm")
    mode = "simulated" if simulated else "real"
    tool_role = "simulator" if simulated else "tool"
    planner_spec, planner_source = llm_spec_for("planner", choices)
    tool_spec, _ = llm_spec_for(tool_role, choices)
    installed = load_toolset().for_mode(mode)
    tool_options = {"allow_bash": allow_bash}
    interactive = sys.stdin.isatty() if interactive is None else interactive
    tools = installed
    if mode == "real":  # twins always work; real tools may lack what they need
        tools, _ = offered_tools(installed, interactive=interactive, options=tool_options)
    choice = choose_planner(planner, planner_spec, planner_source, installed)
    if choice.note:
        click.echo(choice.note, err=True)
    planner, planner_spec = choice.planner, choice.llm_spec
    make_planner = planner_factory(planner)
    planner_model = get_llm(planner_spec)
    tool_model = planner_model if tool_spec == planner_spec else get_llm(tool_spec)
    if cache_path:
        from gba_core.llm.cache import CachedLLM, CallCache

        cache = CallCache(cache_path)
        planner_model = CachedLLM(planner_model, cache)
        tool_model = CachedLLM(tool_model, cache)
    the_planner = make_planner(tools=tools, llm=planner_model)
    console = _console(stderr=as_json)
    from rich.markup import escape

    def show(step: Any) -> None:
        if as_json:
            return
        # Model and tool text is data, not rich markup ("[/usr/bin]" would break it).
        if step.plan is None:
            console.print(
                f"[bold red]step {step.index + 1}[/] invalid plan: {escape(step.observation)}"
            )
            return
        console.print(
            f"[bold cyan]step {step.index + 1}[/] "
            f"[magenta]{escape(step.plan.selected_tool)}[/]"
            f"  {step.planner_usage.seconds:.1f}s"
        )
        console.print(f"  [bold]task[/]  {escape(step.plan.task)}")
        style = "red" if step.tool_error else "green"
        console.print(f"  [bold]result[/] [{style}]{escape(step.observation)}[/]")

    agent = Agent(
        the_planner,
        tools,
        max_steps=max_steps,
        tool_llm=tool_model,
        interactive=interactive,
        tool_options=tool_options,
        answer_at_limit=True,
        on_step=show,
        planner_name=planner,
        mode=mode,
    )
    # A spinner while the model works, on terminals only (not in pipes, logs or CI).
    busy = console.status("working…") if console.is_terminal else contextlib.nullcontext()
    with busy:
        trajectory = agent.run(request.strip(), seed=seed, today=today.date() if today else None)
    if as_json:
        click.echo(trajectory.model_dump_json(indent=2))
    elif trajectory.status == "completed":
        console.print(f"\n[bold]Answer:[/] {escape(trajectory.final_answer or '')}")
    elif trajectory.status == "max_steps":
        console.print(f"\n[yellow]No final answer within {max_steps} steps.[/]")
        if trajectory.limit_answer:
            console.print(f"[bold]From the results so far:[/] {escape(trajectory.limit_answer)}")
    else:
        console.print(f"\n[red]Error:[/] {escape(trajectory.error or '')}")
    if trajectory.status == "error":
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tools(as_json: bool) -> None:
    """List installed tools with their plugin, real and simulated sides; flag missing twins
    and real tools that cannot work as configured (the planner is not offered those)."""
    from gba_core.config import env_flag
    from gba_core.tools import load_toolset, offered_tools

    toolset = load_toolset()
    missing = toolset.missing_twins()
    _, unavailable = offered_tools(
        toolset.real,
        interactive=sys.stdin.isatty(),
        options={"allow_bash": env_flag("GBA_ALLOW_BASH")},
    )
    rows = [
        {
            "name": name,
            "plugin": toolset.origins.get((name, "real"))
            or toolset.origins.get((name, "simulated")),
            "real": name in toolset.real,
            "simulated": name in toolset.simulated,
            "missing": missing.get(name),
            "unavailable": unavailable.get(name),
            "description": toolset.description(name),
        }
        for name in toolset.names
    ]
    if as_json:
        _echo_json(rows)
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
            row["name"], row["plugin"], mark("real"), mark("simulated"), row["description"]
        )
    console = _console()
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def planners(as_json: bool) -> None:
    """List planners and shipped planner models, and which one `gba run` uses and why.

    A shipped planner is the default when it knows every installed tool and no model is
    configured for the planner role (--planner-llm, GBA_PLANNER_LLM, gba.toml).
    """
    from gba_core.config import llm_spec_for
    from gba_core.planners import planner_factories
    from gba_core.shipped import choose_planner, shipped_planners
    from gba_core.tools import load_toolset

    names = load_toolset().real
    shipped = shipped_planners()
    spec, source = llm_spec_for("planner")
    choice = choose_planner(None, spec, source, names, shipped)
    models = [
        {
            "name": s.name,
            "planner": s.manifest.planner,
            "base": s.manifest.base_llm,
            "adapter": str(s.adapter_path),
            "tools": sorted(s.manifest.tools),
            "unknown_installed_tools": s.unknown_tools(names),
            "heldout_next_tool_accuracy": s.manifest.heldout.next_tool_accuracy,
            "built": s.manifest.built.isoformat(),
        }
        for s in shipped.values()
    ]
    default = {"planner": choice.planner, "llm": choice.llm_spec, "why": choice.reason}
    if as_json:
        _echo_json({"planners": sorted(planner_factories()), "shipped": models, "default": default})
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    console.print(f"planners: {', '.join(sorted(planner_factories()))}")
    table = Table("shipped", "planner", "base", "held-out next tool", "unknown installed tools")
    for row in models:
        table.add_row(
            row["name"],
            row["planner"],
            row["base"],
            f"{row['heldout_next_tool_accuracy']:.3f}",
            ", ".join(row["unknown_installed_tools"]) or "none",
        )
    console.print(table)
    console.print(f"[bold]default:[/] {choice.planner} on {escape(choice.llm_spec)}")
    console.print(f"  why: {escape(choice.reason)}")


@cli.command()
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
        _echo_json([asdict(info) for info in infos])
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def llms(as_json: bool) -> None:
    """List LLM backends and the model each role resolves to."""
    from gba_core.config import ROLES, llm_spec_for
    from gba_core.llm import llm_backends

    backends = llm_backends()
    roles = {role: llm_spec_for(role) for role in ROLES}
    if as_json:
        _echo_json(
            {
                "backends": {p: b.help for p, b in backends.items()},
                "roles": {r: {"llm": s, "from": src} for r, (s, src) in roles.items()},
            }
        )
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    table = Table("prefix", "description")
    for prefix, backend in backends.items():
        table.add_row(escape(prefix), escape(backend.help))
    console.print(table)
    table = Table("role", "llm", "from")
    for role, (spec, source) in roles.items():
        table.add_row(role, spec, source)
    console.print(table)


cli.add_command(plugin_group)
cli.add_command(install)
cli.add_command(uninstall)


def main() -> None:
    cli()
