"""``gba sim``: simulation runs in one SQLite runs database."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.registry import (
    get_llm,
    load_toolset,
    planner_factory,
    real_tools_named,
    shipped_planners,
)
from gba_core.shipped import TRAINED_PLANNERS, choose_planner

from .cli_calibrate import calibrate
from .cli_eval import compare, eval_
from .cli_results import package, rate
from .db import RunsDB
from .export import export_run
from .importer import import_seed
from .locks import run_lock
from .options import (
    db_option,
    executor_options,
    existing_db_option,
    failure_rate_option,
)
from .package_roles import package_roles
from .progress import stop_at_budget, stop_if_over_budget, trajectories_shown
from .requests import CATEGORIES, generate
from .starter import JUDGE, load_starter
from .trajectories import RunConfig
from .usage import load_budget, load_prices

if TYPE_CHECKING:
    from .executor import ExecutorConfig
    from .usage import Prices


@click.group()
def sim() -> None:
    """Simulation: requests, teacher trajectories over simulated tools, judging,
    dataset packaging and planner evaluation, kept in one runs database."""


@sim.command()
@existing_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(db_path: Path, as_json: bool) -> None:
    """Counts of requests, trajectories (by status), ratings, LLM calls, tokens and cost
    per run."""

    info = RunsDB(db_path).status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(
        f"{info['path']}: {info['requests']} requests, {info['trajectories']} trajectories, "
        f"{info['ratings']} ratings, {info['cached_llm_calls']} cached LLM calls"
    )
    # Two lines a run, not a table: run ids are long, and they are what other commands take.
    for run in info["runs"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run["trajectories"].items())) or "none"
        click.echo(f"\n{run['run']}  ({run['kind']}, planner {run['planner']})")
        click.echo(
            f"  trajectories: {counts}; rated {run['rated']}; {run['calls']} calls"
            f" ({run['cached_calls']} from the cache); tokens {run['prompt_tokens']:,} in,"
            f" {run['completion_tokens']:,} out; cost ${run['cost']:.4f}"
        )


def say_unknown_tools(unknown: Counter[str], skipped: int) -> None:
    if unknown:
        tools = ", ".join(f"{name} ({n})" for name, n in unknown.most_common())
        click.echo(f"left out {skipped} trajectories using tools not installed: {tools}", err=True)


@sim.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
@click.option("--run", "run_id", default=None, help="Run id (default: import:<folder name>).")
def import_(folder: Path, db_path: Path, run_id: str | None) -> None:
    """Import FOLDER in the output layout of the original grammar-based-agents project
    (requests/*.txt, trajectories/<id>.json, evaluations/<id>.json). Trajectories using a
    tool that no installed plugin provides are reported and left out. Re-running imports
    only what is missing."""

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
    say_unknown_tools(report.unknown_tools, len(report.skipped))
    for problem in report.problems[:20]:
        click.echo(f"skipped: {problem}", err=True)
    if len(report.problems) > 20:
        click.echo(f"… and {len(report.problems) - 20} more problems", err=True)
    if report.problems:
        # What could be read is stored; fix the files and import again for the rest.
        sys.exit(1)


@sim.command()
@db_option
@click.option("--run", "run_id", default="starter", show_default=True, help="Run id.")
def starter(db_path: Path, run_id: str) -> None:
    """Load the starter set shipped with gba-sim: reference trajectories over the office
    and search tools, rated 5 by the judge `reference`, with a fixed split (requests
    `train` and `heldout`). Package it with `--judge reference --validation-split heldout`."""

    report = load_starter(RunsDB(db_path), run_id=run_id, known_tools=set(load_toolset().names))
    splits = ", ".join(f"{n} {split}" for split, n in sorted(report.splits.items()))
    click.echo(
        f"starter set in run {run_id!r} (judge {JUDGE!r}): {splits or 'nothing'};"
        f" {report.trajectories} new trajectories, {report.requests} new requests in {db_path}"
    )
    say_unknown_tools(report.unknown_tools, report.skipped)


@sim.command()
@existing_db_option
@click.option("--run", "run_id", default=None, help="Run id (default: <planner>-seed<seed>).")
@click.option("--planner", default="teacher", show_default=True, help="Planner name.")
@click.option("--llm", "llm_all", metavar="SPEC", help="LLM for every role.")
@click.option("--teacher-llm", metavar="SPEC", help="LLM of the planner (role teacher).")
@click.option("--simulator-llm", metavar="SPEC", help="LLM that plays the simulated tools.")
@click.option("--max-steps", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Run seed: each trajectory's seed derives from it and the request id.",
)
@click.option("--split", default=None, help="Only requests of this split.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many requests.")
@click.option(
    "--allow-unpaired", is_flag=True, help="Run even if some real tool has no simulated twin."
)
@click.option(
    "--direct-answer",
    type=click.Choice(["llm", "simple"]),
    default="llm",
    show_default=True,
    help="How final_answer answers in simulation: llm writes the answer from the results"
    " with the simulator model; simple takes the planner's task as the answer (no call).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Planner sampling temperature; above 0 each trajectory samples with its own seed.",
)
@failure_rate_option
@executor_options
def trajectories(
    db_path: Path,
    run_id: str | None,
    planner: str,
    llm_all: str | None,
    teacher_llm: str | None,
    simulator_llm: str | None,
    max_steps: int,
    seed: int,
    split: str | None,
    limit: int | None,
    allow_unpaired: bool,
    direct_answer: str,
    temperature: float,
    failure_rates: dict[str, Any],
    executor: ExecutorConfig,
    prices: Prices,
) -> None:
    """Run the agent with PLANNER over the simulated tools for every request of the
    database not yet done in the run. Finished trajectories are stored one by one, so an
    interrupted run resumes where it stopped; LLM calls are cached in the database."""
    from rich.console import Console

    planner_factory(planner)  # a typo fails before any model loads
    choices = {
        "default": llm_all,
        "teacher": teacher_llm,
        "planner": teacher_llm,
        "simulator": simulator_llm,
    }
    role = "teacher" if planner == "teacher" else "planner"
    planner_spec, source = llm_spec_for(role, choices)
    if planner in TRAINED_PLANNERS:  # never the bare base model without tool descriptions
        # A shipped planner runs in the plan form it was trained on.
        choice = choose_planner(
            planner, planner_spec, source, load_toolset().names, shipped_planners()
        )
        planner, planner_spec = choice.planner, choice.llm_spec
    config = RunConfig(
        run_id=run_id or f"{planner}-seed{seed}",
        planner=planner,
        planner_spec=planner_spec,
        simulator_spec=llm_spec_for("simulator", choices)[0],
        max_steps=max_steps,
        seed=seed,
        allow_unpaired=allow_unpaired,
        direct_answer=direct_answer,
        temperature=temperature,
        failure_rates=failure_rates,
    )
    db = RunsDB(db_path)
    requests = db.requests(split=split)[:limit] if limit else db.requests(split=split)
    if not requests:
        raise ConfigError(
            f"no requests in {db_path}; add some with `gba sim requests` or `gba sim import`"
        )

    console = Console(highlight=False)
    with run_lock(db_path, config.run_id, "making its trajectories"):
        already = len(db.done_request_ids(config.run_id) & {r.id for r in requests})
        counts = trajectories_shown(console, config.run_id, db, requests, config, executor, prices)
    made = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing new"
    console.print(f"{config.run_id}: {made} ({already} were already done)")
    stop_if_over_budget(executor)
    errors = set(db.failure_errors(config.run_id))
    if set(counts) == {"failed"} and len(errors) == 1:
        # Not one item got through and all for one reason: the backend, not the requests.
        raise click.ClickException(
            f"all {counts['failed']} trajectories failed with the same error: {errors.pop()} "
            "(they are recorded as failed and retried on the next run)"
        )


@sim.command()
@db_option
@click.option(
    "--batches",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Batches on a random topic, each with requests needing 1 to 6 steps.",
)
@click.option(
    "--single-per-tool",
    type=click.IntRange(0),
    default=2,
    show_default=True,
    help="Single-step requests for each installed tool.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split", default="train", show_default=True, help="Split of the new requests.")
@click.option(
    "--categories",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A text file with one category per line (default: a built-in list).",
)
@click.option(
    "--teacher-llm",
    "--llm",
    "teacher_llm",
    metavar="SPEC",
    help="LLM that writes the requests (role teacher).",
)
@click.option("--max-calls", type=click.IntRange(1), default=None, help="Budget: model calls.")
@click.option("--max-tokens", type=click.IntRange(1), default=None, help="Budget: tokens.")
@click.option(
    "--max-cost", type=click.FloatRange(0, min_open=True), default=None, help="Budget: USD."
)
@click.option("--price", "price_args", multiple=True, metavar="SPEC=IN,OUT")
def requests(
    db_path: Path,
    batches: int,
    single_per_tool: int,
    seed: int,
    split: str,
    categories: Path | None,
    teacher_llm: str | None,
    max_calls: int | None,
    max_tokens: int | None,
    max_cost: float | None,
    price_args: tuple[str, ...],
) -> None:
    """Have the teacher write requests for the installed tools: single-step ones per
    tool, and batches on a random topic needing 1 to 6 steps. Near-duplicates of each
    other or of stored requests are dropped; calls are cached in the database."""

    budget = load_budget(max_calls, max_tokens, max_cost) or None

    chosen: tuple[str, ...] = CATEGORIES
    if categories:
        chosen = tuple(line.strip() for line in categories.read_text().splitlines() if line.strip())
        if not chosen:
            raise ConfigError(f"{categories}: no categories")
    db = RunsDB(db_path)
    llm = db.cached(get_llm(llm_spec_for("teacher", {"teacher": teacher_llm})[0]))
    toolset = load_toolset()
    tools = {name: toolset.description(name) for name in toolset.names}
    new, explanations = generate(
        llm,
        tools,
        batches=batches,
        single_per_tool=single_per_tool,
        seed=seed,
        existing=[r.text for r in db.requests()],
        categories=chosen,
        split=split,
        budget=budget,
        prices=load_prices(price_args),
    )
    added = db.add_requests(new, explanation=explanations, source=f"gba sim requests (seed {seed})")
    click.echo(f"{added} new requests in {db_path} ({len(db.requests())} in all)")
    stop_at_budget(budget)


@sim.command("package-roles")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the dataset (train and validation splits, report.json).",
)
@click.option(
    "--tool",
    "tool_names",
    multiple=True,
    metavar="NAME",
    help="Only this tool's roles (repeatable; default: every installed real tool).",
)
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out folder.")
def package_roles_command(out: Path, tool_names: tuple[str, ...], overwrite: bool) -> None:
    """Package the installed tools' role examples (the LLM calls inside real tools:
    function arguments, calculations, search notes, final answers) for `gba train sft`.
    Each prompt is rendered by the tool's own template, as at run time."""

    counts = package_roles(real_tools_named(tool_names), out, overwrite=overwrite)
    for split, by_role in counts.items():
        listed = ", ".join(f"{role} {n}" for role, n in sorted(by_role.items()))
        click.echo(f"{split}: {sum(by_role.values())} examples ({listed})")
    click.echo(f"written to {out}")


@sim.command()
@existing_db_option
@click.option("--run", "run_id", required=True, help="The run to export.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder."
)
def export(db_path: Path, run_id: str, out: Path) -> None:
    """Write RUN's trajectories (canonical JSON: no timings, so a run regenerated from the
    cache writes the same bytes) and ratings as one file per request under OUT."""

    db = RunsDB(db_path)
    if not db.has_run(run_id):
        raise ConfigError(f"no run {run_id!r} in {db_path}; `gba sim status` lists the runs")
    written = export_run(db, run_id, out)
    click.echo(f"{written['trajectories']} trajectories and {written['ratings']} ratings in {out}")


for _command in (rate, calibrate, package, eval_, compare):
    sim.add_command(_command)
