"""Every hook a gba plugin can implement.

All hooks use the register-callback style: the core passes a ``register`` callable and
the plugin calls it once per thing it provides. This lets the core record which plugin
gave what and reject duplicate names. Implementations may accept a subset of the
arguments (pluggy's opt-in arguments), so new arguments can be added without breaking
existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gba_core import hookspec
from gba_core.evaluation import EvaluatorFactory
from gba_core.llm import LLMFactory
from gba_core.planners import PlannerFactory
from gba_core.shipped import ShippedPlanner
from gba_core.tools import SimulatedTool, Tool

if TYPE_CHECKING:
    import click  # imported by the CLI, not needed to load plugins

__all__ = ["EvaluatorFactory", "LLMFactory", "PlannerFactory"]


@hookspec
def register_tools(register: Callable[[Tool], None]) -> None:
    """Register real tools: call ``register(tool)`` once per ``Tool`` instance.

    A tool's ``name`` is a stable identifier (it ends up inside trained planners);
    two plugins registering the same name is an error naming both.
    """


@hookspec
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    """Register simulated twins: call ``register(tool)`` once per ``SimulatedTool``.

    A twin has the same name as the real tool it stands in for; the simulator answers
    through an LLM instead of acting on the world.
    """


@hookspec
def register_planners(register: Callable[[str, PlannerFactory], None]) -> None:
    """Register planners: ``register(name, factory)``.

    ``factory(tools=..., llm=..., **options)`` returns an object with the ``Planner``
    protocol (``plan(request, scratchpad) -> PlanResult``).
    """


@hookspec
def register_planner_models(register: Callable[[ShippedPlanner], None]) -> None:
    """Register trained planners that ship with the plugin: ``register(shipped)`` with a
    ``ShippedPlanner`` (``ShippedPlanner.from_folder(folder)`` reads its manifest).

    The manifest names the base model, the adapter and the tools it was trained on.
    ``gba run`` uses a shipped planner by default when it knows every installed tool.
    """


@hookspec
def register_evaluators(register: Callable[[str, EvaluatorFactory], None]) -> None:
    """Register evaluators (judges, metrics): ``register(name, factory)``.

    ``factory(llm=..., tools={name: description}, **options)`` returns an
    ``Evaluator`` (``gba_core.evaluation``): ``rate(trajectory) -> Rating``.
    """


@hookspec
def register_llms(register: Callable[..., None]) -> None:
    """Register LLM backends by spec prefix: ``register(prefix, factory, help="...")``.

    A spec ``PREFIX:NAME?key=value`` resolves to ``factory(NAME, **options)``, which
    returns an object with the ``LLM`` protocol (``complete(messages, ...)``). A backend
    with access to logits may set ``accepts_contrast = True`` and take ``contrast=``
    (``gba_core.llm.base.Contrast``, context-aware decoding); others are never passed it.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``gba`` command line (``cli.add_command``).

    Add ``gba_core.cli.LazyCommand(name, "module:attribute", help)`` instead of the
    command itself to have its module imported only when the command runs, so listing
    the commands (``gba --help``) stays fast whatever the module imports."""
