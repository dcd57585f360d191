"""What the ``gba sim`` commands show while they work: progress bars with ETA and counts
by outcome, the end of a run on Ctrl-C or at the budget, each in one line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from gba_core.schema import Request

from .db import RunsDB
from .executor import ExecutorConfig
from .rate import rate_run
from .trajectories import RunConfig, run_trajectories
from .usage import Budget, Prices


class RunProgress:
    """A rich progress bar with ETA, counts by outcome, tokens and cost."""

    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task
        self.counts: dict[str, int] = {}
        self.tokens = 0
        self.cost = 0.0

    def advance(self, outcome: str, calls: list[dict[str, Any]] | None = None) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        for call in calls or []:
            self.tokens += call["prompt_tokens"] + call["completion_tokens"]
            self.cost += call["cost"]
        shown = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        self.progress.update(
            self.task,
            advance=1,
            counts=shown,
            usage=f"{self.tokens:,} tok ${self.cost:.4f}",
        )


@contextmanager
def run_progress(console: Console, label: str, total: int, saved: str) -> Iterator[RunProgress]:
    """A progress bar for one stage; Ctrl-C ends the command with a word on resuming (the
    ``saved`` things, trajectories or ratings, are already stored)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[usage]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with progress:
        try:
            yield RunProgress(progress, progress.add_task(label, total=total, counts="", usage=""))
        except KeyboardInterrupt:
            console.print(f"interrupted: finished {saved} are saved; run again to resume")
            raise SystemExit(130) from None


def trajectories_shown(
    console: Console,
    label: str,
    db: RunsDB,
    requests: list[Request],
    config: RunConfig,
    executor: ExecutorConfig,
    prices: Prices,
) -> Counter[str]:
    """``run_trajectories`` behind a progress bar; counts by status."""
    done = db.done_request_ids(config.run_id) & {r.id for r in requests}
    with run_progress(console, label, len(requests) - len(done), "trajectories") as progress:
        run_trajectories(
            db,
            requests,
            config,
            executor=executor,
            prices=prices,
            on_done=lambda _, status, usage: progress.advance(status, usage),
        )
    return Counter(progress.counts)


def ratings_shown(
    console: Console,
    label: str,
    db: RunsDB,
    run_id: str,
    judge_spec: str,
    judge: str,
    executor: ExecutorConfig,
    prices: Prices,
    evaluator: str = "judge",
) -> Counter[str]:
    """``rate_run`` behind a progress bar; counts by outcome (rated, invalid, failed)."""
    with run_progress(console, label, len(db.unrated(run_id, judge)), "ratings") as progress:
        rate_run(
            db,
            run_id,
            judge_spec,
            evaluator=evaluator,
            executor=executor,
            prices=prices,
            on_done=lambda _, outcome, usage: progress.advance(outcome, usage),
        )
    return Counter(progress.counts)


def stop_if_over_budget(executor: ExecutorConfig) -> None:
    """End the command in one line when its budget is used up: finished work is stored,
    and the same command run again (with more budget) goes on from there."""
    stop_at_budget(executor.budget)


def stop_at_budget(budget: Budget | None) -> None:
    """``stop_if_over_budget`` for a command with a budget of its own."""
    if budget and (reason := budget.reached()):
        raise click.ClickException(
            f"budget reached ({reason}): stopped here; what is finished is stored, and "
            "running the command again with a larger budget goes on from there"
        )
