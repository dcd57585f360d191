"""The built-in planners: ``zero-shot``, ``fine-tuned`` and ``fine-tuned-brief``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl
from gba_core.planners import BriefPlanner, FineTunedPlanner, ZeroShotPlanner


@hookimpl
def register_planners(register: Callable[[str, Any], None]) -> None:
    register("zero-shot", ZeroShotPlanner)
    register("fine-tuned", FineTunedPlanner)
    register("fine-tuned-brief", BriefPlanner)
