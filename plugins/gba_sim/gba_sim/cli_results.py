"""``gba sim`` commands on the runs' results: rate, package, eval, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gba_core.errors import ConfigError

from .options import (
    executor_options,
    existing_db_option,
    failure_rate_option,
    ratings_shown,
    stop_if_over_budget,
    trajectories_shown,
)

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

    from gba_core.config import llm_spec_for

    from .db import RunsDB
    from .rate import evaluator_factory
    from .rate import judge_name as name_of

    evaluator_factory(judge_name)  # a typo fails before any model loads
    db = RunsDB(db_path)
    spec, source = llm_spec_for("judge", {"judge": judge_llm})
    name = name_of(judge_name, spec)
    console = Console(highlight=False)
    if source == "default":
        click.echo(EMBEDDED_JUDGE_WARNING, err=True)
    from .locks import run_lock

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
    tokenizer: str | None,
    max_tokens: int,
) -> None:
    """Package rated trajectories as a fine-tuning dataset for the fine-tuned planner:
    one example per step (its prompt, rendered by gba_core, and the plan without the
    teacher's fields), as prompt/completion and messages JSONL and an HF dataset."""
    from gba_core.tools import load_toolset

    from . import package as packaging
    from .db import RunsDB

    db = RunsDB(db_path)
    measure = None
    if tokenizer:
        from gba_core.llm import get_llm

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


@click.command("eval")
@existing_db_option
@click.option("--planner", default="fine-tuned", show_default=True)
@click.option("--planner-llm", metavar="SPEC", help="LLM of the planner being evaluated.")
@click.option("--simulator-llm", metavar="SPEC", help="LLM that plays the simulated tools.")
@click.option("--judge-llm", metavar="SPEC", help="LLM of the judge.")
@click.option(
    "--runs",
    "repeats",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Repeated runs (different seeds) for mean ± standard error.",
)
@click.option("--requests", "split", default=None, help="Request split to evaluate on.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many requests.")
@click.option("--max-steps", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--temperature",
    type=click.FloatRange(0),
    default=0.7,
    show_default=True,
    help="Planner sampling temperature, seeded per trajectory. At 0 a deterministic"
    " planner repeats itself, and runs differ only where the twins inject failures.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--name", default=None, help="Series name (default: planner@planner-llm).")
@click.option(
    "--fresh",
    is_flag=True,
    help="Start new runs even where runs of the same identity exist.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the summary as JSON here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG bar chart with error bars here.",
)
@failure_rate_option
@executor_options
def eval_(
    db_path: Path,
    planner: str,
    planner_llm: str | None,
    simulator_llm: str | None,
    judge_llm: str | None,
    repeats: int,
    split: str | None,
    limit: int | None,
    max_steps: int,
    temperature: float,
    failure_rates: dict[str, Any],
    seed: int,
    name: str | None,
    fresh: bool,
    json_path: Path | None,
    plot_path: Path | None,
    executor: ExecutorConfig,
    prices: Prices,
) -> None:
    """Evaluate PLANNER in simulation: RUNS runs over the requests, each judged, then
    pass rate, bad-task rate, completion rate, invalid-plan rate, steps, tokens and seconds
    per step as mean ± standard error over the runs. A run is reused only when everything
    that shapes it matches (models by content, requests, limits, sampling, failure rates,
    tools and plugin versions); --fresh starts new ones."""
    from rich.console import Console
    from rich.table import Table

    from gba_core.config import llm_spec_for
    from gba_core.llm import get_llm
    from gba_core.llm.identity import model_identity
    from gba_core.planners import planner_factory
    from gba_core.shipped import choose_planner
    from gba_core.tools import load_toolset

    from .db import RunsDB
    from .executor import session
    from .metrics import METRICS, plot, run_metrics, summarize
    from .rate import judge_name
    from .series import digest, series_identity
    from .trajectories import RunConfig

    planner_factory(planner)
    planner_spec, source = llm_spec_for("planner", {"planner": planner_llm})
    # The fine-tuned planner on the bare base model would only guess: the shipped
    # planner stands in, or the user is told what to pass.
    planner_spec = choose_planner(planner, planner_spec, source, load_toolset().names).llm_spec
    simulator_spec = llm_spec_for("simulator", {"simulator": simulator_llm})[0]
    judge_spec = llm_spec_for("judge", {"judge": judge_llm})[0]
    db = RunsDB(db_path)
    requests = db.requests(split=split)[:limit] if limit else db.requests(split=split)
    if not requests:
        raise ConfigError(f"no requests{f' in split {split}' if split else ''} in {db_path}")
    judge = judge_name("judge", judge_spec)
    # Named by the backend's own spec, not what was typed: that may carry an api_key,
    # and the series name goes into run ids, the database and the --json file.
    planner_model = get_llm(planner_spec)
    public_spec = planner_model.spec
    series = name or f"{planner}@{public_spec}"
    identity = series_identity(
        planner=planner,
        models={
            "planner": model_identity(planner_model),
            "simulator": model_identity(get_llm(simulator_spec)),
            "judge": model_identity(get_llm(judge_spec)),
        },
        request_ids=[r.id for r in requests],
        max_steps=max_steps,
        temperature=temperature,
        seed=seed,
        failure_rates=failure_rates,
        fresh=fresh,
    )
    run_prefix = f"eval:{series}:{digest(identity)}"
    request_ids = {r.id for r in requests}
    console = Console(highlight=False)
    per_run = []
    with session(executor):
        for repeat in range(repeats):
            run_id = f"{run_prefix}:{repeat}"
            config = RunConfig(
                run_id=run_id,
                planner=planner,
                planner_spec=planner_spec,
                simulator_spec=simulator_spec,
                max_steps=max_steps,
                seed=seed + repeat,
                temperature=temperature,
                failure_rates=failure_rates,
                kind="eval",
            )
            label = f"run {repeat + 1}/{repeats}"
            trajectories_shown(console, label, db, requests, config, executor, prices)
            stop_if_over_budget(executor)
            ratings_shown(
                console, f"{label} judged", db, run_id, judge_spec, judge, executor, prices
            )
            stop_if_over_budget(executor)
            per_run.append(run_metrics(db, run_id, judge, request_ids))
    summary = summarize(per_run)
    table = Table("metric", f"{series} (mean ± s.e., {repeats} runs)")
    for metric in METRICS:
        table.add_row(metric, f"{summary[metric]['mean']:.3f} ± {summary[metric]['stderr']:.3f}")
    console.print(table)
    result = {
        "series": series,
        "planner": planner,
        "planner_llm": public_spec,
        "judge": judge,
        "runs": repeats,
        "run_ids": [f"{run_prefix}:{repeat}" for repeat in range(repeats)],
        "requests": len(requests),
        "identity": identity,
        "metrics": summary,
    }
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    if plot_path:
        plot({series: summary}, str(plot_path))


@click.command()
@click.argument(
    "summaries",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG bar chart of all series here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare(summaries: tuple[Path, ...], plot_path: Path | None, as_json: bool) -> None:
    """Put evaluated series (the --json files of `gba sim eval`) side by side, with
    Welch's t-test of each series against the first, per metric."""
    from rich.console import Console
    from rich.table import Table

    from .metrics import METRICS, plot, welch_p

    series = {}
    for path in summaries:
        try:
            data = json.loads(path.read_text())
            series[data["series"]] = data["metrics"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}: not a summary written by `gba sim eval --json`") from None
    names = list(series)
    base = names[0]
    rows = {}
    for metric in METRICS:
        rows[metric] = {
            name: {
                "mean": series[name][metric]["mean"],
                "stderr": series[name][metric]["stderr"],
                "p_vs_first": None
                if name == base
                else welch_p(series[base][metric]["values"], series[name][metric]["values"]),
            }
            for name in names
        }
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        table = Table("metric", *names)
        for metric, values in rows.items():
            cells = []
            for name in names:
                cell = f"{values[name]['mean']:.3f} ± {values[name]['stderr']:.3f}"
                if values[name]["p_vs_first"] is not None:
                    cell += f" (p={values[name]['p_vs_first']:.3f})"
                cells.append(cell)
            table.add_row(metric, *cells)
        Console(highlight=False).print(table)
    if plot_path:
        plot(series, str(plot_path))
