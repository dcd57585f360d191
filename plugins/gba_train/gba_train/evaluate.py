"""``gba train eval-steps``: a planner on held-out steps, one step at a time.

Each packaged example carries the request and the scratchpad of earlier steps, so any
planner can plan that step again from its own prompt (the zero-shot planner reads the
tool descriptions, the fine-tuned one does not) and be scored against the reference plan:
the next tool, the plan's validity against the planner's schema, prompt tokens and
seconds. Whole trajectories, where one wrong step changes the next, are ``gba sim
eval``'s job.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from gba_core.errors import ConfigError, InvalidOutputError, LLMError
from gba_core.schema import ScratchpadEntry, TrainingExample

METRICS = (
    "next_tool_accuracy",
    "valid_plan_rate",
    "prompt_tokens",
    "plan_tokens",
    "seconds_per_step",
)


@dataclass
class StepOutcome:
    trajectory_id: str
    step: int
    expected_tool: str
    chosen_tool: str | None  # None: no valid plan
    prompt_tokens: int
    seconds: float
    plan_tokens: int = 0  # tokens the planner wrote (0: no valid plan)


@dataclass
class StepsReport:
    planner: str
    llm: str
    runs: list[dict[str, float]] = field(default_factory=list)
    outcomes: list[list[StepOutcome]] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and standard error over runs, per metric."""
        out = {}
        for metric in METRICS:
            values = [run[metric] for run in self.runs]
            spread = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
            out[metric] = (statistics.fmean(values), spread)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "planner": self.planner,
            "llm": self.llm,
            "summary": {k: {"mean": m, "stderr": s} for k, (m, s) in self.summary().items()},
            "runs": self.runs,
            "confusion": self.confusion,
            "steps": [[asdict(o) for o in run] for run in self.outcomes],
        }


def held_out_steps(rows: list[TrainingExample]) -> list[TrainingExample]:
    """The rows with what replanning needs; older datasets lack the request."""
    if rows and not rows[0].is_planner_step:
        raise ConfigError(
            "this dataset has no request and scratchpad per example; package it again"
            " with this version of `gba sim package`"
        )
    return rows


def score_run(
    rows: list[TrainingExample], planner: Any
) -> tuple[dict[str, float], list[StepOutcome]]:
    outcomes = []
    for row in rows:
        scratchpad = row.scratchpad or []
        started = time.perf_counter()
        try:
            result = planner.plan(row.request or "", scratchpad, today=row.today)
            chosen, tokens = result.plan.selected_tool, result.completion.prompt_tokens
            written = result.completion.completion_tokens
        except (InvalidOutputError, LLMError):
            chosen, tokens, written = None, 0, 0
        outcomes.append(
            StepOutcome(
                trajectory_id=row.trajectory_id or "",
                step=row.step or 0,
                expected_tool=row.expected_tool(),
                chosen_tool=chosen,
                prompt_tokens=tokens,
                seconds=time.perf_counter() - started,
                plan_tokens=written,
            )
        )
    valid = [o for o in outcomes if o.chosen_tool is not None]
    metrics = {
        "next_tool_accuracy": sum(o.chosen_tool == o.expected_tool for o in outcomes)
        / len(outcomes),
        "valid_plan_rate": len(valid) / len(outcomes),
        "prompt_tokens": statistics.fmean(o.prompt_tokens for o in valid) if valid else 0.0,
        "plan_tokens": statistics.fmean(o.plan_tokens for o in valid) if valid else 0.0,
        "seconds_per_step": statistics.fmean(o.seconds for o in outcomes),
    }
    return metrics, outcomes


def evaluate_steps(
    rows: list[TrainingExample],
    make_planner: Callable[[int], Any],
    *,
    planner: str,
    llm: str,
    runs: int = 1,
    on_step: Callable[[], None] | None = None,
) -> StepsReport:
    """Score ``make_planner(run)`` on every row, ``runs`` times."""
    rows = held_out_steps(rows)
    if not rows:
        raise ConfigError("no held-out steps to evaluate")
    report = StepsReport(planner=planner, llm=llm)
    for run in range(runs):
        planner_for_run = make_planner(run)
        if on_step is not None:
            planner_for_run = _Counting(planner_for_run, on_step)
        metrics, outcomes = score_run(rows, planner_for_run)
        report.runs.append(metrics)
        report.outcomes.append(outcomes)
    for outcome in (o for run in report.outcomes for o in run):
        row = report.confusion.setdefault(outcome.expected_tool, {})
        chosen = outcome.chosen_tool or "(invalid)"
        row[chosen] = row.get(chosen, 0) + 1
    return report


class _Counting:
    """A planner that reports each planned step (for a progress bar)."""

    def __init__(self, planner: Any, on_step: Callable[[], None]) -> None:
        self.planner, self.on_step = planner, on_step

    def plan(
        self, request: str, scratchpad: list[ScratchpadEntry], *, today: date | None = None
    ) -> Any:
        try:
            return self.planner.plan(request, scratchpad, today=today)
        finally:
            self.on_step()
