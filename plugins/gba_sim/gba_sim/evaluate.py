"""Evaluating a planner in simulation: the use case behind ``gba sim eval``.

Repeated runs over the same requests, each judged, summarised as mean ± standard error
over the runs. The command parses options and prints; this module decides which models
run, names the series, reuses runs of the same identity and computes the figures. How
the work is shown (progress bars) and bounded (a budget) is the caller's ``Stages``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.llm.identity import model_identity
from gba_core.registry import get_llm, load_toolset, planner_factory, shipped_planners
from gba_core.schema import Request
from gba_core.shipped import choose_planner

from .db import RunsDB
from .metrics import run_metrics, summarize
from .rate import judge_name
from .series import digest, series_identity
from .trajectories import RunConfig


@dataclass(frozen=True)
class EvalOptions:
    """What shapes an evaluation, as ``gba sim eval`` takes it."""

    planner: str = "fine-tuned"
    planner_llm: str | None = None
    simulator_llm: str | None = None
    judge_llm: str | None = None
    repeats: int = 4
    split: str | None = None
    limit: int | None = None
    max_steps: int = 10
    temperature: float = 0.7
    failure_rates: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    name: str | None = None
    fresh: bool = False


@dataclass
class EvalResult:
    """One evaluated series: its name, what ran, and each metric's mean ± s.e."""

    series: str
    planner: str
    planner_llm: str  # the backend's public spec: no api_key
    judge: str
    run_ids: list[str]
    requests: int
    identity: dict[str, Any]
    metrics: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` file, which ``gba sim compare`` reads back."""
        return {
            "series": self.series,
            "planner": self.planner,
            "planner_llm": self.planner_llm,
            "judge": self.judge,
            "runs": len(self.run_ids),
            "run_ids": self.run_ids,
            "requests": self.requests,
            "identity": self.identity,
            "metrics": self.metrics,
        }


class Stages(Protocol):
    """How the caller runs the two stages of each run: showing progress, stopping at a
    budget or on Ctrl-C. Finished trajectories and ratings are stored either way."""

    def trajectories(
        self, label: str, db: RunsDB, requests: list[Request], config: RunConfig
    ) -> None: ...

    def ratings(self, label: str, db: RunsDB, run_id: str, judge_spec: str, judge: str) -> None: ...


def evaluate(db_path: Path, options: EvalOptions, stages: Stages) -> EvalResult:
    """Run (or reuse) ``options.repeats`` judged runs of the planner and summarise them.
    A run is reused only when everything that shapes it matches (models by content,
    requests, limits, sampling, failure rates, tools and plugin versions)."""
    planner_factory(options.planner)
    planner_spec, source = llm_spec_for("planner", {"planner": options.planner_llm})
    # The fine-tuned planner on the bare base model would only guess: the shipped
    # planner stands in, or the user is told what to pass.
    choice = choose_planner(
        options.planner, planner_spec, source, load_toolset().names, shipped_planners()
    )
    # A shipped planner runs in the plan form it was trained on.
    planner, planner_spec = choice.planner, choice.llm_spec
    simulator_spec = llm_spec_for("simulator", {"simulator": options.simulator_llm})[0]
    judge_spec = llm_spec_for("judge", {"judge": options.judge_llm})[0]
    db = RunsDB(db_path)
    requests = db.requests(split=options.split)
    requests = requests[: options.limit] if options.limit else requests
    if not requests:
        where = f" in split {options.split}" if options.split else ""
        raise ConfigError(f"no requests{where} in {db_path}")
    judge = judge_name("judge", judge_spec)
    # Named by the backend's own spec, not what was typed: that may carry an api_key,
    # and the series name goes into run ids, the database and the --json file.
    planner_model = get_llm(planner_spec)
    public_spec = planner_model.spec
    series = options.name or f"{planner}@{public_spec}"
    identity = series_identity(
        planner=planner,
        models={
            "planner": model_identity(planner_model),
            "simulator": model_identity(get_llm(simulator_spec)),
            "judge": model_identity(get_llm(judge_spec)),
        },
        request_ids=[r.id for r in requests],
        max_steps=options.max_steps,
        temperature=options.temperature,
        seed=options.seed,
        failure_rates=options.failure_rates,
        fresh=options.fresh,
    )
    run_prefix = f"eval:{series}:{digest(identity)}"
    request_ids = {r.id for r in requests}
    per_run, run_ids = [], []
    for repeat in range(options.repeats):
        run_id = f"{run_prefix}:{repeat}"
        config = RunConfig(
            run_id=run_id,
            planner=planner,
            planner_spec=planner_spec,
            simulator_spec=simulator_spec,
            max_steps=options.max_steps,
            seed=options.seed + repeat,
            temperature=options.temperature,
            failure_rates=options.failure_rates,
            kind="eval",
        )
        label = f"run {repeat + 1}/{options.repeats}"
        stages.trajectories(label, db, requests, config)
        stages.ratings(f"{label} judged", db, run_id, judge_spec, judge)
        per_run.append(run_metrics(db, run_id, judge, request_ids))
        run_ids.append(run_id)
    return EvalResult(
        series=series,
        planner=planner,
        planner_llm=public_spec,
        judge=judge,
        run_ids=run_ids,
        requests=len(requests),
        identity=identity,
        metrics=summarize(per_run),
    )
