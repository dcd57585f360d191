"""The built-in planners: ``zero-shot`` and ``fine-tuned``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl
from gba_core.planners import FineTunedPlanner, ZeroShotPlanner


@hookimpl
def register_planners(register: Callable[[str, Any], None]) -> None:
    register("zero-shot", ZeroShotPlanner)
    register("fine-tuned", FineTunedPlanner)
