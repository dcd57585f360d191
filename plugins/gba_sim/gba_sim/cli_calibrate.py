"""``gba sim calibrate``: how far a judge agrees with reference ratings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.registry import evaluator_factory, get_llm, load_toolset

from .calibrate import calibrate as run_calibration
from .calibrate import cases
from .db import RunsDB
from .options import db_option
from .rate import make_judge, rate_one
from .starter import starter_trajectories

if TYPE_CHECKING:
    from .calibrate import Calibration, Case


@click.command()
@db_option
@click.option(
    "--judge",
    "evaluator",
    default="judge",
    show_default=True,
    help="Evaluator name (see `gba plugins`).",
)
@click.option(
    "--judge-llm",
    "judge_llms",
    multiple=True,
    metavar="SPEC",
    help="LLM of the judge; repeat to compare judges on the same cases (default: role judge).",
)
@click.option(
    "--split",
    type=click.Choice(["train", "heldout", "all"]),
    default="heldout",
    show_default=True,
    help="Starter-set trajectories to start from.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="At most this many starter trajectories (each gives up to four cases).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Which breaks are made.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(
    db_path: Path,
    evaluator: str,
    judge_llms: tuple[str, ...],
    split: str,
    limit: int | None,
    seed: int,
    as_json: bool,
) -> None:
    """Measure how far a judge agrees with reference ratings before its ratings filter a
    dataset. The cases are starter-set trajectories (reference rating 5) and copies
    broken on purpose: another request's final answer (1), a step's tool swapped (2), a
    step done twice (3). Prints the rank correlation (Spearman) of the judge's final
    rating with the reference, the confusion at the threshold `gba sim package` keeps
    (rating 4 or more), and per kind of break the share the judge caught. The judge's
    calls are cached in the runs database, so an interrupted calibration resumes."""
    from rich.console import Console
    from rich.progress import Progress

    evaluator_factory(evaluator)  # a typo fails before any model loads
    specs = list(judge_llms) or [llm_spec_for("judge", {})[0]]
    tools = load_toolset().names
    trajectories = starter_trajectories(
        split=None if split == "all" else split, known_tools=set(tools)
    )[:limit]
    if not trajectories:
        raise ConfigError("no starter-set trajectory uses only the installed tools")
    chosen = cases(trajectories, tools, seed)
    db = RunsDB(db_path)
    console = Console(stderr=True, highlight=False)
    results = []
    for spec in specs:
        judge = make_judge(evaluator, db.cached(get_llm(spec)))

        def rate(trajectory, judge=judge):  # type: ignore[no-untyped-def]
            return rate_one(judge, trajectory)

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"calibrate {judge.name}", total=len(chosen))

            def advance(_case: Any, task: Any = task) -> None:
                progress.advance(task)

            results.append(run_calibration(judge.name, rate, chosen, on_done=advance))
    if as_json:
        click.echo(json.dumps([r.summary() for r in results], indent=2))
    else:
        for result in results:
            _show(result, chosen)


def _show(result: Calibration, chosen: list[Case]) -> None:
    summary = result.summary()
    rho = summary["spearman"]
    accuracy = summary["accuracy"]
    click.echo(f"{result.judge}: {summary['rated']} of {len(chosen)} cases rated")
    if summary["invalid"] or summary["failed"]:
        click.echo(
            f"  {summary['invalid']} with output it could not rate, "
            f"{summary['failed']} failed (backend errors)"
        )
    click.echo("  Spearman with the reference: " + ("n/a" if rho is None else f"{rho:.2f}"))
    confusion = result.confusion()
    click.echo(
        f"  at rating >= {result.threshold}: good kept {confusion['good_kept']}, good dropped "
        f"{confusion['good_dropped']}, bad kept {confusion['bad_kept']}, bad dropped "
        f"{confusion['bad_dropped']}" + ("" if accuracy is None else f" (accuracy {accuracy:.2f})")
    )
    for kind, figures in result.by_kind().items():
        share = "kept" if kind == "clean" else "caught"
        value = 1 - figures["below_threshold"] if kind == "clean" else figures["below_threshold"]
        click.echo(
            f"  {kind:<14} {int(figures['cases']):>3} cases, mean rating "
            f"{figures['mean_rating']:.2f}, {share} {value:.2f}"
        )
