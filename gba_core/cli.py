"""The ``gba`` command line. Plugins add their own commands through ``register_commands``."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any

import click

from gba_core import __version__
from gba_core.authoring import install, plugin_group, uninstall
from gba_core.cli_listings import llms, make_console, planners, plugins, terminal_text, tools
from gba_core.errors import GbaError


class UsageFailure(click.ClickException):
    """One line on stderr, exit status 2 (bad input, never a traceback)."""

    exit_code = 2


class LazyCommand(click.Command):
    """A plugin's command known by its name and help until it runs: ``gba --help`` lists
    it without importing the module that defines it, so that module may import what it
    needs at the top. ``target`` is ``"module:attribute"``; ``help`` is the first line of
    the command's own help (a test compares them)."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name, help=help)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class GbaGroup(click.Group):
    """Adds plugin commands when first asked for them, loads a ``LazyCommand`` when it
    runs or shows its own help, and turns ``GbaError`` into ``UsageFailure``."""

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
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, LazyCommand):
            command = self.commands[cmd_name] = command.load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click lays it out, from each command's one line: lazy commands stay unloaded.
        self._ensure_plugin_commands()
        shown = [
            (name, command)
            for name in self.list_commands(ctx)
            if (command := self.commands.get(name)) and not command.hidden
        ]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in shown])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # A plugin's command is missing when an allow list leaves its plugin out.
            allow = os.environ.get("GBA_PLUGINS", "").strip()
            if allow and "No such command" in exc.message:
                exc.message += (  # type: ignore[misc]  # click's stubs mark it Final
                    f" (GBA_PLUGINS={allow} loads only those plugins; a command from "
                    "another plugin needs it in the list, or GBA_PLUGINS unset)"
                )
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GbaError as exc:
            from gba_core.secrets import redact

            raise UsageFailure(redact(str(exc))) from exc


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
    from gba_core.assembly import build_agent, choose_models
    from gba_core.registry import load_toolset, planner_factory
    from gba_core.tools import ToolMode, ToolOptions, offered_tools

    if not request.strip():
        raise UsageFailure("the request is empty")
    try:
        request.encode("utf-8")
    except UnicodeEncodeError:  # argv bytes that were not UTF-8 arrive as surrogates
        raise UsageFailure(
            "the request is not valid UTF-8 (check the terminal's encoding)"
        ) from None
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
    mode: ToolMode = "simulated" if simulated else "real"
    installed = load_toolset().for_mode(mode)
    tool_options = ToolOptions(allow_bash=allow_bash)
    interactive = sys.stdin.isatty() if interactive is None else interactive
    tools = installed
    if mode == "real":  # twins always work; real tools may lack what they need
        tools, _ = offered_tools(installed, interactive=interactive, options=tool_options)
    models = choose_models(planner, choices, installed, mode=mode)
    if models.note:
        click.echo(models.note, err=True)
    planner = models.planner
    planner_model, tool_model = models.load()
    if cache_path:
        from gba_core.llm.cache import CachedLLM, CallCache

        cache = CallCache(cache_path)
        planner_model = CachedLLM(planner_model, cache)
        tool_model = CachedLLM(tool_model, cache)
    console = make_console(stderr=as_json)
    escape = terminal_text

    def show(step: Any) -> None:
        if as_json:
            return
        # Model and tool text is data: not rich markup ("[/usr/bin]" would break it), and
        # not terminal control either.
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

    agent = build_agent(
        planner,
        tools,
        planner_llm=planner_model,
        tool_llm=tool_model,
        max_steps=max_steps,
        interactive=interactive,
        tool_options=tool_options,
        answer_at_limit=True,
        on_step=show,
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


cli.add_command(tools)
cli.add_command(planners)
cli.add_command(plugins)
cli.add_command(llms)
cli.add_command(plugin_group)
cli.add_command(install)
cli.add_command(uninstall)


def main() -> None:
    cli()
