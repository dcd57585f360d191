"""``gba sim eval`` and ``compare``: a planner evaluated in simulation over repeated runs,
and evaluated series side by side."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from gba_core.errors import ConfigError
from gba_core.schema import Request

from .db import RunsDB
from .evaluate import EvalOptions, evaluate
from .executor import session
from .metrics import METRICS, plot, welch_p
from .options import (
    executor_options,
    existing_db_option,
    failure_rate_option,
)
from .progress import ratings_shown, stop_if_over_budget, trajectories_shown
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
    options = EvalOptions(
        planner=planner,
        planner_llm=planner_llm,
        simulator_llm=simulator_llm,
        judge_llm=judge_llm,
        repeats=repeats,
        split=split,
        limit=limit,
        max_steps=max_steps,
        temperature=temperature,
        failure_rates=failure_rates,
        seed=seed,
        name=name,
        fresh=fresh,
    )
    console = Console(highlight=False)
    with session(executor):
        result = evaluate(db_path, options, ShownStages(console, executor, prices))
    table = Table("metric", f"{result.series} (mean ± s.e., {repeats} runs)")
    for metric in METRICS:
        value = result.metrics[metric]
        table.add_row(metric, f"{value['mean']:.3f} ± {value['stderr']:.3f}")
    console.print(table)
    if json_path:
        json_path.write_text(json.dumps(result.to_json(), indent=2))
    if plot_path:
        plot({result.series: result.metrics}, str(plot_path))


@dataclass
class ShownStages:
    """The stages of an evaluation behind progress bars, stopping at the budget."""

    console: Console
    executor: ExecutorConfig
    prices: Prices

    def trajectories(
        self, label: str, db: RunsDB, requests: list[Request], config: RunConfig
    ) -> None:
        trajectories_shown(self.console, label, db, requests, config, self.executor, self.prices)
        stop_if_over_budget(self.executor)

    def ratings(self, label: str, db: RunsDB, run_id: str, judge_spec: str, judge: str) -> None:
        ratings_shown(
            self.console, label, db, run_id, judge_spec, judge, self.executor, self.prices
        )
        stop_if_over_budget(self.executor)


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
