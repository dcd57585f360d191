"""gba-sim: the runs database and the ``gba sim`` commands that turn simulated tools
into trajectories, ratings and fine-tuning data, and compare planners.

This module registers the ``teacher`` planner (zero-shot with the teacher's extra plan
fields, ``user_request`` and ``missing_information_or_action``), the ``judge`` evaluator
and the command group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl


@hookimpl
def register_planners(register: Callable[[str, Any], None]) -> None:
    from .teacher import TeacherPlanner

    register("teacher", TeacherPlanner)


@hookimpl
def register_evaluators(register: Callable[[str, Any], None]) -> None:
    from .judge import judge_factory

    register("judge", judge_factory)


@hookimpl
def register_commands(cli: Any) -> None:
    from gba_core.cli import LazyCommand

    # Loaded when it runs: `gba --help` lists it without importing .cli.
    help = (
        "Simulation: requests, teacher trajectories over simulated tools, judging, "
        "dataset packaging and planner evaluation, kept in one runs database."
    )
    cli.add_command(LazyCommand("sim", "gba_sim.cli:sim", help))
