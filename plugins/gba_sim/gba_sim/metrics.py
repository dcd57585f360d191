"""Planner metrics from rated trajectories, per run and as mean ± standard error over
repeated runs.

- pass_rate: trajectories whose final answer the judge rated 4 or more
- bad_task_rate: steps whose task the judge rated 3 or less
- completion_rate: trajectories that gave a final answer within the step limit
- invalid_plan_rate: steps whose plan did not parse or validate
- steps: steps per trajectory
- prompt_tokens_per_step, seconds_per_step: the planner's, per step
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from .db import RunsDB

METRICS = (
    "pass_rate",
    "bad_task_rate",
    "completion_rate",
    "invalid_plan_rate",
    "steps",
    "prompt_tokens_per_step",
    "seconds_per_step",
)


def run_metrics(
    db: RunsDB, run_id: str, judge: str, request_ids: set[str] | None = None
) -> dict[str, float]:
    """The run's metrics over its trajectories, only those of ``request_ids`` when given
    (a series reports on its own requests)."""
    rows = [
        row
        for row in db.rated(run_id, judge)
        if request_ids is None or row.request_id in request_ids
    ]
    passed = completed = steps = bad_tasks = rated_steps = invalid = 0
    tokens = seconds = 0.0
    for row in rows:
        trajectory = json.loads(row.json)
        passed += row.final_rating is not None and row.final_rating >= 4
        completed += row.status == "completed"
        for step in trajectory["steps"]:
            steps += 1
            invalid += bool(step["invalid_plan"])
            tokens += step["planner_usage"]["prompt_tokens"]
            seconds += step["planner_usage"]["seconds"]
        for rating in (row.rating or {}).get("steps", []):
            rated_steps += 1
            bad_tasks += rating["task_rating"] <= 3
    n = len(rows)
    return {
        "trajectories": n,
        "pass_rate": passed / n if n else 0.0,
        "bad_task_rate": bad_tasks / rated_steps if rated_steps else 0.0,
        "completion_rate": completed / n if n else 0.0,
        "invalid_plan_rate": invalid / steps if steps else 0.0,
        "steps": steps / n if n else 0.0,
        "prompt_tokens_per_step": tokens / steps if steps else 0.0,
        "seconds_per_step": seconds / steps if steps else 0.0,
    }


def summarize(per_run: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard error of each metric over runs (the error is 0 for one run)."""
    out: dict[str, dict[str, float]] = {}
    for name in METRICS:
        values = [run[name] for run in per_run]
        mean = statistics.fmean(values)
        error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        out[name] = {"mean": mean, "stderr": error, "values": values}  # type: ignore[dict-item]
    return out


def plot(series: dict[str, dict[str, Any]], path: str) -> None:
    """A bar chart of the rate metrics with standard-error bars, one colour a series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = ["pass_rate", "bad_task_rate", "completion_rate", "invalid_plan_rate"]
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (name, summary) in enumerate(series.items()):
        xs = [x + i * width for x in range(len(rates))]
        ax.bar(
            xs,
            [summary[m]["mean"] for m in rates],
            width,
            yerr=[summary[m]["stderr"] for m in rates],
            capsize=3,
            label=name,
        )
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(rates))], rates)
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test, or None when it is undefined (fewer than two
    runs a side, or no variance at all)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:
        return None if statistics.fmean(a) == statistics.fmean(b) else 0.0
    from scipy.stats import ttest_ind

    return float(ttest_ind(a, b, equal_var=False).pvalue)
