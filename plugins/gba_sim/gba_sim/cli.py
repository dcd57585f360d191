"""``gba sim``: simulation runs in one SQLite runs database."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gba_core.errors import ConfigError

from .db import DEFAULT_PATH

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    envvar="GBA_SIM_DB",
    help="The runs database (SQLite); GBA_SIM_DB also sets it.",
)


@click.group()
def sim() -> None:
    """Simulation: requests, teacher trajectories over simulated tools, judging,
    dataset packaging and planner evaluation, kept in one runs database."""


@sim.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(db_path: Path, as_json: bool) -> None:
    """Counts of requests, trajectories (by status), ratings, LLM calls, tokens and cost
    per run."""
    from .db import RunsDB

    if not db_path.exists():
        raise ConfigError(f"no runs database at {db_path} (see `gba sim --help`)")
    info = RunsDB(db_path).status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(
        f"{info['path']}: {info['requests']} requests, {info['trajectories']} trajectories, "
        f"{info['ratings']} ratings, {info['cached_llm_calls']} cached LLM calls"
    )
    table = Table(
        "run", "kind", "planner", "trajectories", "rated", "calls (cached)", "tokens in/out", "cost"
    )
    for run in info["runs"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run["trajectories"].items())) or "0"
        table.add_row(
            run["run"],
            run["kind"],
            run["planner"],
            counts,
            str(run["rated"]),
            f"{run['calls']} ({run['cached_calls']})",
            f"{run['prompt_tokens']}/{run['completion_tokens']}",
            f"{run['cost']:.4f}",
        )
    console.print(table)


@sim.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
@click.option("--run", "run_id", default=None, help="Run id (default: import:<folder name>).")
def import_(folder: Path, db_path: Path, run_id: str | None) -> None:
    """Import FOLDER in the output layout of the original grammar-based-agents project
    (requests/*.txt, trajectories/<id>.json, evaluations/<id>.json). Trajectories using a
    tool that no installed plugin provides are reported and left out. Re-running imports
    only what is missing."""
    from gba_core.tools import load_toolset

    from .db import RunsDB
    from .importer import import_seed

    db = RunsDB(db_path)
    report = import_seed(
        folder,
        db,
        run_id=run_id or f"import:{folder.resolve().name}",
        known_tools=set(load_toolset().names),
    )
    click.echo(
        f"imported {report.requests} new requests, {report.trajectories} trajectories "
        f"({report.failed} failed runs), {report.ratings} ratings into {db_path}"
    )
    if report.unknown_tools:
        tools = ", ".join(f"{name} ({n})" for name, n in report.unknown_tools.most_common())
        click.echo(
            f"left out {len(report.skipped)} trajectories using tools not installed: {tools}",
            err=True,
        )
    for problem in report.problems[:20]:
        click.echo(f"skipped: {problem}", err=True)
    if len(report.problems) > 20:
        click.echo(f"… and {len(report.problems) - 20} more problems", err=True)
