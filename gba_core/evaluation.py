"""What an evaluator is: something that rates a whole trajectory.

``register_evaluators`` hands core a factory per name; ``gba sim rate`` and
``gba sim calibrate`` build one per judge model and call ``rate`` on each trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from gba_core.schema import Rating, Trajectory


@runtime_checkable
class Evaluator(Protocol):
    """Rates trajectories; ``name`` is stored with each rating (it names the model)."""

    name: str

    def rate(self, trajectory: Trajectory) -> Rating: ...


EvaluatorFactory = Callable[..., Evaluator]
"""``factory(llm=..., tools={name: description}, **options)``, as ``register_evaluators``
gives it."""
