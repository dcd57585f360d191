"""``gba sim rate``: a judge rates every trajectory of a run it has not rated yet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from gba_core.errors import ConfigError, InvalidOutputError, LLMError
from gba_core.schema import Rating, Trajectory

from .db import RunsDB


def evaluator_factory(name: str) -> Callable[..., Any]:
    from gba_core.plugins import collect

    factories = collect("register_evaluators", "evaluator", lambda n, f: (n, f)).items
    if name not in factories:
        raise ConfigError(f"unknown evaluator {name!r}; installed: {', '.join(sorted(factories))}")
    return factories[name]


def rate_run(
    db: RunsDB,
    run_id: str,
    judge: Any,
    *,
    workers: int = 1,
    on_done: Callable[[Trajectory, Rating | None], Any] | None = None,
) -> Counter[str]:
    """Rate the unrated trajectories of ``run_id``. A backend failure leaves the
    trajectory unrated (rated by the next run); output the judge cannot get into the
    rating schema is stored as an invalid rating (no score, the error), since asking the
    same model the same question again would fail the same way. The others go on."""
    todo = db.unrated(run_id, judge.name)
    counts: Counter[str] = Counter()

    def work(trajectory: Trajectory) -> Rating | str | None:
        try:
            return judge.rate(trajectory)
        except InvalidOutputError as exc:
            return str(exc)
        except LLMError:
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(work, t): t for t in todo}
        for future in as_completed(futures):
            trajectory, rating = futures[future], future.result()
            if rating is None:
                counts["failed"] += 1
            elif isinstance(rating, str):
                db.save_rating(trajectory.id, judge.name, None, {"error": rating})
                counts["invalid"] += 1
                rating = None
            else:
                db.save_rating(
                    trajectory.id, judge.name, rating.final_answer_rating, rating.model_dump()
                )
                counts["rated"] += 1
            if on_done:
                on_done(trajectory, rating)
    return counts
