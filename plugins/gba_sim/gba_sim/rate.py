"""``gba sim rate``: a judge rates every trajectory of a run it has not rated yet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gba_core.errors import InvalidOutputError, LLMError
from gba_core.evaluation import Evaluator
from gba_core.llm import LLM
from gba_core.schema import Rating, Trajectory

from .db import RunsDB
from .executor import ExecutorConfig, WorkerEnv, run_job
from .usage import CURRENT_TRAJECTORY, Prices, priced


def make_judge(evaluator: str, llm: LLM) -> Evaluator:
    """The evaluator ``evaluator`` on ``llm``, told the installed tools' descriptions."""
    from gba_core.registry import get_evaluator, load_toolset

    toolset = load_toolset()
    return get_evaluator(
        evaluator, llm=llm, tools={n: toolset.description(n) for n in toolset.names}
    )


@dataclass
class RateJob:
    """Rating as executor work: the judge is built in each worker process."""

    evaluator: str
    judge_spec: str
    backend_spec: str

    def specs(self) -> list[str]:
        return [self.backend_spec]

    def build(self, env: WorkerEnv) -> Callable[[Trajectory], Rating | str | None]:
        judge = make_judge(self.evaluator, env.llm(self.judge_spec, "judge"))

        def work(trajectory: Trajectory) -> Rating | str | None:
            token = CURRENT_TRAJECTORY.set(trajectory.id)
            try:
                return rate_one(judge, trajectory)
            finally:
                CURRENT_TRAJECTORY.reset(token)

        return work


def rate_one(judge: Evaluator, trajectory: Trajectory) -> Rating | str | None:
    """The judge's rating; the error text for output it could not get into the rating
    schema; None when the backend failed (worth asking again later)."""
    try:
        return judge.rate(trajectory)
    except InvalidOutputError as exc:
        return str(exc)
    except LLMError:
        return None


def judge_name(evaluator: str, judge_spec: str) -> str:
    """The name ratings are stored under (it names the judge's model)."""
    from gba_core.registry import get_llm

    return make_judge(evaluator, get_llm(judge_spec)).name  # no model is loaded for this


def rate_run(
    db: RunsDB,
    run_id: str,
    judge_spec: str,
    *,
    evaluator: str = "judge",
    executor: ExecutorConfig | None = None,
    prices: Prices | None = None,
    on_done: Callable[[Trajectory, str, list[dict[str, Any]]], Any] | None = None,
) -> Counter[str]:
    """Rate the unrated trajectories of ``run_id``; ``on_done`` gets each one with its
    outcome (rated, invalid, failed) and the usage of the calls made. A backend failure leaves the
    trajectory unrated (rated by the next run); output the judge cannot get into the
    rating schema is stored as an invalid rating (no score, the error), since asking the
    same model the same question again would fail the same way. The others go on."""
    from gba_core.registry import get_llm

    name = judge_name(evaluator, judge_spec)
    job = RateJob(evaluator, judge_spec, get_llm(judge_spec).spec)
    counts: Counter[str] = Counter()
    executor = executor or ExecutorConfig()
    for item in run_job(job, db.unrated(run_id, name), executor, db):
        trajectory, rating = item.item, item.result
        if rating is None:
            outcome = "failed"
        elif isinstance(rating, str):
            db.save_rating(trajectory.id, name, None, {"error": rating})
            outcome = "invalid"
        else:
            db.save_rating(trajectory.id, name, rating.final_answer_rating, rating.model_dump())
            outcome = "rated"
        counts[outcome] += 1
        usage = priced(item.usage, prices or {})
        db.add_usage(run_id, usage)
        if on_done:
            on_done(trajectory, outcome, usage)
        if executor.budget and executor.budget.charge(usage):
            break  # the rest is rated by the next run
    return counts
