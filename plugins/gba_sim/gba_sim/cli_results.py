"""``gba sim`` commands on the runs' results: rate and package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.registry import evaluator_factory, get_llm, load_toolset

from . import package as packaging
from .db import RunsDB
from .locks import run_lock
from .options import (
    executor_options,
    existing_db_option,
)
from .progress import ratings_shown, stop_if_over_budget
from .rate import judge_name as name_of

if TYPE_CHECKING:
    from .executor import ExecutorConfig
    from .usage import Prices


EMBEDDED_JUDGE_WARNING = (
    "warning: the judge is the embedded 270M, whose ratings barely agree with reference"
    " ones (`gba sim calibrate`: Spearman -0.10 in bench/README.md); give a strong model"
    " with --judge-llm before packaging what it keeps"
)


@click.command()
@existing_db_option
@click.option("--run", "run_id", required=True, help="The run whose trajectories to rate.")
@click.option(
    "--judge",
    "judge_name",
    default="judge",
    show_default=True,
    help="Evaluator name (see `gba plugins`).",
)
@click.option("--judge-llm", metavar="SPEC", help="LLM of the judge (role judge).")
@executor_options
def rate(
    db_path: Path,
    run_id: str,
    judge_name: str,
    judge_llm: str | None,
    executor: ExecutorConfig,
    prices: Prices,
) -> None:
    """Have the judge rate each step (task, tool, result: 1-5 with an explanation) and the
    final answer (1-5) of every trajectory of RUN it has not rated yet. The judge can be a
    different model than the teacher."""
    from rich.console import Console

    evaluator_factory(judge_name)  # a typo fails before any model loads
    db = RunsDB(db_path)
    spec, source = llm_spec_for("judge", {"judge": judge_llm})
    name = name_of(judge_name, spec)
    console = Console(highlight=False)
    if source == "default":
        click.echo(EMBEDDED_JUDGE_WARNING, err=True)

    with run_lock(db_path, run_id, "rating it"):
        counts = ratings_shown(
            console, f"rate {run_id}", db, run_id, spec, name, executor, prices, judge_name
        )
    click.echo(
        f"{run_id}: rated {counts['rated']} trajectories with {name}"
        + (f", {counts['failed']} failed (rated next time)" if counts["failed"] else "")
        + (
            f", {counts['invalid']} with output the judge could not rate"
            if counts["invalid"]
            else ""
        )
    )
    stop_if_over_budget(executor)


@click.command()
@existing_db_option
@click.option(
    "--run",
    "runs",
    multiple=True,
    required=True,
    help="Run(s) whose trajectories to package (repeat for several).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a non-empty --out folder (the new dataset takes its place when complete).",
)
@click.option(
    "--judge",
    default=None,
    help="Whose ratings filter (e.g. judge:openai:gpt-4o); needed if several rated.",
)
@click.option(
    "--min-rating",
    type=click.IntRange(1, 5),
    default=4,
    show_default=True,
    help="Keep trajectories whose final answer the judge rated at least this.",
)
@click.option(
    "--val-size",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Trajectories held out for validation, drawn at random (split by trajectory).",
)
@click.option(
    "--validation-split",
    metavar="SPLIT",
    default=None,
    help="Instead of --val-size: the trajectories of requests in this split are the"
    " validation set (the starter set's fixed split is `heldout`).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "max_steps", "error"]),
    default=("completed",),
    show_default=True,
    help="Trajectory statuses to package (repeat for several).",
)
@click.option(
    "--brief",
    is_flag=True,
    help="Plans of only the tool and the task, for the fine-tuned-brief planner (default:"
    " the fine-tuned planner's plans, with their summary and thoughts).",
)
@click.option(
    "--tokenizer",
    metavar="SPEC",
    default=None,
    help="A llama-cpp LLM spec whose format and tokenizer count example lengths.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(1),
    default=1024,
    show_default=True,
    help="With --tokenizer: report examples longer than this.",
)
def package(
    db_path: Path,
    runs: tuple[str, ...],
    out: Path,
    overwrite: bool,
    judge: str | None,
    min_rating: int,
    val_size: int,
    validation_split: str | None,
    seed: int,
    statuses: tuple[str, ...],
    brief: bool,
    tokenizer: str | None,
    max_tokens: int,
) -> None:
    """Package rated trajectories as a fine-tuning dataset for the fine-tuned planner:
    one example per step (its prompt, rendered by gba_core, and the plan without the
    teacher's fields), as prompt/completion and messages JSONL and an HF dataset."""

    db = RunsDB(db_path)
    measure = None
    if tokenizer:
        measure = get_llm(tokenizer)
        if not hasattr(measure, "tokenize"):
            raise ConfigError(f"{tokenizer} has no tokenizer (use a llama-cpp: spec)")
    report = packaging.package(
        db,
        list(runs),
        out,
        tools=load_toolset().names,
        judge=judge,
        min_rating=min_rating,
        val_size=val_size,
        validation_split=validation_split,
        seed=seed,
        tokenizer=measure,
        max_tokens=max_tokens if measure else None,
        statuses=statuses,
        overwrite=overwrite,
        brief=brief,
    )
    kept = report.trajectories["kept"]
    dropped = ", ".join(
        f"{n} {k.removeprefix('dropped: ')}"
        for k, n in sorted(report.trajectories.items())
        if k != "kept"
    )
    click.echo(f"{kept} trajectories kept" + (f" (dropped: {dropped})" if dropped else ""))
    click.echo(
        f"{report.examples['train']} train and {report.examples['validation']} "
        f"validation examples in {out}"
    )
    if measure is not None:
        click.echo(
            f"longer than {max_tokens} tokens: {report.too_long['train']} train, "
            f"{report.too_long['validation']} validation"
        )
