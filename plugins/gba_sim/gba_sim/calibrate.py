"""How far an evaluator agrees with reference ratings, before its ratings filter a dataset.

The references are the starter set's trajectories (rated 5) and copies of them broken
on purpose, each with the score a careful rater would give:

    wrong_answer   the final answer of another request            1
    wrong_tool     one step's tool swapped for another tool       2
    repeated_step  one step done twice                            3

The evaluator rates every one; agreement is the rank correlation (Spearman) between its
final rating and the reference score, and the confusion at the threshold ``gba sim
package`` filters on (kept: rated at least 4). Per kind of break: the share the judge
caught (rated below 4).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gba_core.schema import Rating, Trajectory

CLEAN = "clean"
REFERENCE = {CLEAN: 5, "wrong_answer": 1, "wrong_tool": 2, "repeated_step": 3}
FINAL = "final_answer"


@dataclass(frozen=True)
class Case:
    """A trajectory to rate, with the kind of break and its reference score."""

    kind: str
    trajectory: Trajectory

    @property
    def reference(self) -> int:
        return REFERENCE[self.kind]


def _renumber(trajectory: Trajectory) -> Trajectory:
    for index, step in enumerate(trajectory.steps):
        step.index = index
    return trajectory


def wrong_answer(trajectory: Trajectory, other: Trajectory) -> Trajectory | None:
    """``trajectory`` ending in ``other``'s final answer."""
    if not trajectory.final_answer or not other.final_answer:
        return None
    if other.final_answer == trajectory.final_answer:
        return None
    broken = trajectory.model_copy(deep=True)
    broken.steps[-1].observation = other.final_answer
    broken.final_answer = other.final_answer
    return broken


def wrong_tool(
    trajectory: Trajectory, tools: Sequence[str], rng: random.Random
) -> Trajectory | None:
    """One step before the answer done with another tool (its result left as it was)."""
    candidates = [s.index for s in trajectory.steps if s.plan and s.plan.selected_tool != FINAL]
    if not candidates:
        return None
    broken = trajectory.model_copy(deep=True)
    step = broken.steps[rng.choice(candidates)]
    assert step.plan is not None
    others = [t for t in tools if t not in (step.plan.selected_tool, FINAL)]
    if not others:
        return None
    step.plan.selected_tool = rng.choice(sorted(others))
    return broken


def repeated_step(trajectory: Trajectory, rng: random.Random) -> Trajectory | None:
    """One step before the answer done a second time, right after the first."""
    candidates = [s.index for s in trajectory.steps if s.plan and s.plan.selected_tool != FINAL]
    if not candidates:
        return None
    broken = trajectory.model_copy(deep=True)
    index = rng.choice(candidates)
    broken.steps.insert(index + 1, broken.steps[index].model_copy(deep=True))
    return _renumber(broken)


def cases(trajectories: Sequence[Trajectory], tools: Sequence[str], seed: int = 0) -> list[Case]:
    """Each trajectory as it is and broken each way it can be (the same breaks for the
    same seed, so two judges are compared on the same cases)."""
    rng = random.Random(seed)
    out: list[Case] = []
    for i, trajectory in enumerate(trajectories):
        out.append(Case(CLEAN, trajectory))
        n = len(trajectories)
        other = trajectories[(i + 1 + rng.randrange(max(n - 1, 1))) % n]  # never itself
        for kind, broken in (
            ("wrong_answer", wrong_answer(trajectory, other)),
            ("wrong_tool", wrong_tool(trajectory, tools, rng)),
            ("repeated_step", repeated_step(trajectory, rng)),
        ):
            if broken is not None:
                broken.id = f"{trajectory.id}:{kind}"
                out.append(Case(kind, broken))
    return out


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):  # ties share their mean rank
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation; None when either side has a single value."""
    if len(x) != len(y) or len(x) < 2:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / (vx * vy) ** 0.5


@dataclass
class Calibration:
    """What one evaluator made of the cases."""

    judge: str
    threshold: int = 4
    scores: list[tuple[str, int, int]] = field(default_factory=list)  # kind, reference, judge
    invalid: int = 0
    failed: int = 0

    def add(self, case: Case, rating: Rating | str | None) -> None:
        if rating is None:
            self.failed += 1
        elif isinstance(rating, str) or rating.final_answer_rating is None:
            self.invalid += 1
        else:
            self.scores.append((case.kind, case.reference, rating.final_answer_rating))

    @property
    def correlation(self) -> float | None:
        return spearman([s[1] for s in self.scores], [s[2] for s in self.scores])

    def confusion(self) -> dict[str, int]:
        """Kept / dropped at the threshold, against good (clean) / bad (broken)."""
        counts = {"good_kept": 0, "good_dropped": 0, "bad_kept": 0, "bad_dropped": 0}
        for kind, _, score in self.scores:
            good = "good" if kind == CLEAN else "bad"
            kept = "kept" if score >= self.threshold else "dropped"
            counts[f"{good}_{kept}"] += 1
        return counts

    def by_kind(self) -> dict[str, dict[str, float]]:
        """Per kind: cases, mean rating, share below the threshold."""
        out: dict[str, dict[str, float]] = {}
        for kind in REFERENCE:
            got = [s[2] for s in self.scores if s[0] == kind]
            if got:
                out[kind] = {
                    "cases": len(got),
                    "mean_rating": sum(got) / len(got),
                    "below_threshold": sum(g < self.threshold for g in got) / len(got),
                }
        return out

    def summary(self) -> dict[str, object]:
        confusion = self.confusion()
        right = confusion["good_kept"] + confusion["bad_dropped"]
        return {
            "judge": self.judge,
            "cases": len(self.scores) + self.invalid + self.failed,
            "rated": len(self.scores),
            "invalid": self.invalid,
            "failed": self.failed,
            "spearman": self.correlation,
            "threshold": self.threshold,
            "confusion": confusion,
            "accuracy": right / len(self.scores) if self.scores else None,
            "by_kind": self.by_kind(),
        }


def calibrate(
    name: str,
    rate: Callable[[Trajectory], Rating | str | None],
    chosen: Iterable[Case],
    *,
    on_done: Callable[[Case], object] | None = None,
) -> Calibration:
    """Rate every case with ``rate`` (a Rating, an error text for output the judge
    could not rate, or None when the backend failed)."""
    result = Calibration(name)
    for case in chosen:
        result.add(case, rate(case.trajectory))
        if on_done:
            on_done(case)
    return result
