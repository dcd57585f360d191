"""``gba sim eval`` and ``compare``: a planner evaluated in simulation over repeated runs,
and evaluated series side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.llm.identity import model_identity
from gba_core.registry import get_llm, load_toolset, planner_factory, shipped_planners
from gba_core.shipped import choose_planner

from .db import RunsDB
from .executor import session
from .metrics import METRICS, plot, run_metrics, summarize, welch_p
from .options import (
    executor_options,
    existing_db_option,
    failure_rate_option,
    ratings_shown,
    stop_if_over_budget,
    trajectories_shown,
)
from .rate import judge_name
from .series import digest, series_identity
from .trajectories import RunConfig

if TYPE_CHECKING:
    from .executor import ExecutorConfig
    from .usage import Prices


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

    planner_factory(planner)
    planner_spec, source = llm_spec_for("planner", {"planner": planner_llm})
    # The fine-tuned planner on the bare base model would only guess: the shipped
    # planner stands in, or the user is told what to pass.
    choice = choose_planner(planner, planner_spec, source, load_toolset().names, shipped_planners())
    # A shipped planner runs in the plan form it was trained on.
    planner, planner_spec = choice.planner, choice.llm_spec
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
