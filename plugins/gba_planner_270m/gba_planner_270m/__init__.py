"""The fine-tuned planner that ships with gba: a LoRA adapter for the embedded Gemma 3
270M and its manifest (base model, tools, dataset, recipe, held-out figures).

``scripts/ship_planner.py`` in the gba repository rebuilds ``model/`` from the
repository's data with gba's own commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gba_core import hookimpl
from gba_core.shipped import ShippedPlanner

MODEL_DIR = Path(__file__).parent / "model"


@hookimpl
def register_planner_models(register: Callable[[ShippedPlanner], None]) -> None:
    register(ShippedPlanner.from_folder(MODEL_DIR))
