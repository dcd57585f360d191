"""The click options shared by the ``gba sim`` commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gba_core.errors import ConfigError

from .db import DEFAULT_PATH


def _must_exist(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    # Reading a mistyped path would otherwise create an empty database there.
    if not value.exists():
        raise ConfigError(
            f"no runs database at {value} (check --db or GBA_SIM_DB; `gba sim requests`,"
            " `gba sim starter` or `gba sim import` create one)"
        )
    return value


def _db_option(*, must_exist: bool) -> Any:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_PATH,
        show_default=True,
        envvar="GBA_SIM_DB",
        callback=_must_exist if must_exist else None,
        help="The runs database (SQLite); GBA_SIM_DB also sets it.",
    )


db_option = _db_option(must_exist=False)  # commands that create the database
existing_db_option = _db_option(must_exist=True)  # commands that read it


failure_rate_option = click.option(
    "--failure-rate",
    "failure_rates",
    multiple=True,
    metavar="TOOL[.OUTCOME]=P",
    callback=lambda ctx, param, value: parse_failure_rates(value),
    help="Probability that a twin fails (TOOL=P), or gives one of its own outcomes"
    " (e.g. search_wikipedia.no_answer=P); drawn per call from the trajectory's seed."
    " Repeatable; the twins' own rates otherwise.",
)


def parse_failure_rates(values: tuple[str, ...]) -> dict[str, Any]:
    """``TOOL=P`` and ``TOOL.OUTCOME=P`` strings as the agent's ``failure_rates`` option."""
    rates: dict[str, Any] = {}
    for text in values:
        key, _, value = text.partition("=")
        tool, _, outcome = key.strip().partition(".")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not tool or not 0.0 <= rate <= 1.0:
            raise click.BadParameter(f"{text!r}: expected TOOL=P or TOOL.OUTCOME=P, 0 <= P <= 1")
        if outcome:
            if not isinstance(rates.get(tool, {}), dict):
                raise click.BadParameter(f"{tool}: a rate and outcome rates at once")
            rates.setdefault(tool, {})[outcome] = rate
        else:
            if isinstance(rates.get(tool), dict):
                raise click.BadParameter(f"{tool}: a rate and outcome rates at once")
            rates[tool] = rate
    return rates


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--workers, --executor, --ray-address, --ray-task-cpus, --max-calls-per-minute, the
    budget (--max-calls, --max-tokens, --max-cost) and --price; the command receives them
    as one ``executor`` (ExecutorConfig) and ``prices`` argument."""
    options = [
        click.option(
            "--workers",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Items in flight at once (threads, or Ray tasks). Raise it for remote models.",
        ),
        click.option(
            "--executor",
            "executor_kind",
            type=click.Choice(["thread", "ray"]),
            default="thread",
            show_default=True,
            help="thread: a pool in this process. ray: Ray tasks (pip install ray); the"
            " driver alone writes the database.",
        ),
        click.option(
            "--ray-address",
            metavar="ADDR",
            default=None,
            help="Ray cluster to use (default: RAY_ADDRESS, else a new local Ray).",
        ),
        click.option(
            "--ray-task-cpus",
            type=click.FloatRange(0, min_open=True),
            default=1.0,
            show_default=True,
            help="CPUs Ray reserves per task: 1 for local models, less (e.g. 0.1) for API calls.",
        ),
        click.option(
            "--max-calls-per-minute",
            "calls_per_minute",
            type=click.FloatRange(0, min_open=True),
            default=None,
            help="At most this many model calls a minute per backend, over all workers"
            " (calls answered from the cache do not count). Backends also back off on 429.",
        ),
        click.option(
            "--max-calls",
            type=click.IntRange(1),
            default=None,
            help="Stop once this many model calls were made (replays from the cache are"
            " free); finished work is kept and a rerun goes on. Also [sim.budget].",
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(1),
            default=None,
            help="Stop once this many tokens (prompt + completion) were spent.",
        ),
        click.option(
            "--max-cost",
            type=click.FloatRange(0, min_open=True),
            default=None,
            help="Stop once this many USD were spent (with --price or [sim.prices]).",
        ),
        click.option(
            "--price",
            "price_args",
            multiple=True,
            metavar="SPEC=IN,OUT",
            help="USD per 1M prompt and completion tokens of a model, for the cost columns"
            " (also [sim.prices] in gba.toml). Repeatable.",
        ),
    ]

    def wrapper(
        *args: Any,
        workers: int,
        executor_kind: str,
        ray_address: str | None,
        ray_task_cpus: float,
        calls_per_minute: float | None,
        max_calls: int | None,
        max_tokens: int | None,
        max_cost: float | None,
        price_args: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        from .executor import ExecutorConfig
        from .usage import load_budget, load_prices

        executor = ExecutorConfig(
            executor_kind,
            workers,
            ray_address,
            ray_task_cpus,
            calls_per_minute,
            load_budget(max_calls, max_tokens, max_cost) or None,
        )
        return command(*args, executor=executor, prices=load_prices(price_args), **kwargs)

    functools.update_wrapper(wrapper, command)
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
