"""Commands for plugin authors: ``gba plugin new``, ``gba install``, ``gba uninstall``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

INSTALLERS = click.Choice(["auto", "pip", "uv"])


@click.group(name="plugin")
def plugin_group() -> None:
    """Write your own plugins."""


@plugin_group.command(name="new")
@click.argument("name")
@click.option("--tool", help="The tool's name (lower_snake_case); defaults to NAME.")
@click.option(
    "--style",
    type=click.Choice(["class", "function"]),
    default="class",
    show_default=True,
    help="class: a Tool and a SimulatedTool with their own prompt templates. "
    "function: a typed function as the tool, its twin derived by simulate().",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Where to create the plugin's folder.  [default: .]",
)
def new(name: str, tool: str | None, style: str, parent: Path) -> None:
    """Create the plugin distribution gba-NAME in a new folder.

    It holds a pyproject.toml with the `gba` entry point, one module with a real tool
    and its simulated twin, prompt templates, a README, and tests on gba's test kit that
    pass as generated. Then: `gba install -e gba-NAME` and `gba tools`.
    """
    from gba_core.scaffold import create_plugin, scaffold_for

    scaffold = scaffold_for(name, tool, style)
    folder = create_plugin(scaffold, parent)
    click.echo(f"Created {folder} (tool {scaffold.tool}, entry point {scaffold.name}):")
    for relative in scaffold.files():
        click.echo(f"  {relative}")
    click.echo(
        f"Next: gba install -e {folder} && gba tools\n"
        f"Tests: cd {folder} && pip install -e '.[test]' && python -m pytest"
    )


def _run(command: list[str]) -> None:
    from gba_core.installer import describe_change, gba_entry_points

    before = gba_entry_points()
    click.echo("$ " + " ".join(command), err=True)
    code = subprocess.run(command).returncode
    if code:
        sys.exit(code)
    changes = describe_change(before, gba_entry_points())
    for line in changes:
        click.echo(line)
    if not changes:
        click.echo("No gba plugin was added or removed (see `gba plugins`).")


@click.command()
@click.argument("packages", nargs=-1)
@click.option(
    "-e",
    "--editable",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Install a plugin folder in editable mode (repeatable).",
)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade to the newest versions.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall even if up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Bypass the installer's cache.")
@click.option("--pre", is_flag=True, help="Include pre-release versions.")
@click.option(
    "--installer",
    type=INSTALLERS,
    default="auto",
    show_default=True,
    help="auto: this environment's pip if it has one, else uv.",
)
def install(
    packages: tuple[str, ...],
    editable: tuple[str, ...],
    upgrade: bool,
    force_reinstall: bool,
    no_cache_dir: bool,
    pre: bool,
    installer: str,
) -> None:
    """Install plugin distributions into the environment gba runs in.

    That is the environment of this `gba` (its Python is printed with the command), so
    what is installed is what gba finds, also when gba lives in a uv tool environment
    without pip. Prints the gba plugins it added or changed.
    """
    from gba_core.installer import install_command

    _run(
        install_command(
            packages,
            editable=editable,
            upgrade=upgrade,
            force_reinstall=force_reinstall,
            no_cache_dir=no_cache_dir,
            pre=pre,
            installer=installer,  # type: ignore[arg-type]
        )
    )


@click.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("--installer", type=INSTALLERS, default="auto", show_default=True)
def uninstall(packages: tuple[str, ...], installer: str) -> None:
    """Uninstall plugin distributions from the environment gba runs in (no prompt)."""
    from gba_core.installer import uninstall_command

    _run(uninstall_command(packages, installer))  # type: ignore[arg-type]
