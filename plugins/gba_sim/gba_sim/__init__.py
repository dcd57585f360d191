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
from gba_core.planners import PromptPlanner


class TeacherPlanner(PromptPlanner):
    """The strong model's planner for simulation: tool descriptions in the prompt and a
    plan that restates the request and names what is missing before choosing."""

    template = "planner_teacher.j2"
    template_package = __name__
    teacher = True
    with_descriptions = True


@hookimpl
def register_planners(register: Callable[[str, Any], None]) -> None:
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
