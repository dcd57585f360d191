"""Lookups of what the installed plugins provide, in one place at the top of core.

The modules that define tools, planners, LLMs, evaluators and shipped planners import
no plugin machinery; this module asks the loaded plugins (``plugins.collect``) for
each kind and checks what they give. Everything that needs "the installed X" comes
here, so the domain modules stay below the plugin layer and the import graph has no
circle.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gba_core.errors import ConfigError, PluginError
from gba_core.evaluation import Evaluator, EvaluatorFactory
from gba_core.llm import LLM, Backend, LLMFactory, parse_spec
from gba_core.planners import Planner, PlannerFactory
from gba_core.plugins import collect
from gba_core.shipped import ShippedPlanner
from gba_core.tools import TOOL_NAME, SimulatedTool, Tool, ToolMode, ToolSet


def _tool_key(kind: type[Tool]) -> Callable[[Any], tuple[str, Tool]]:
    def key(tool: Any) -> tuple[str, Tool]:
        if not isinstance(tool, kind):
            raise PluginError(f"register() expects a {kind.__name__}, got {tool!r}")
        if not TOOL_NAME.match(tool.name or ""):
            raise PluginError(
                f"tool name {tool.name!r} must be lower_snake_case (letters, digits, _)"
            )
        if not tool.description:
            raise PluginError(f"tool {tool.name!r} has no description")
        return tool.name, tool

    return key


def load_toolset() -> ToolSet:
    """Every real and simulated tool the loaded plugins register."""
    real = collect("register_tools", "tool", _tool_key(Tool))
    simulated = collect("register_simulated_tools", "simulated tool", _tool_key(SimulatedTool))
    origins: dict[tuple[str, ToolMode], str] = {}
    for name, plugin in real.origins.items():
        origins[(name, "real")] = plugin
    for name, plugin in simulated.origins.items():
        origins[(name, "simulated")] = plugin
    return ToolSet(real=real.items, simulated=simulated.items, origins=origins)


def real_tools_named(names: Iterable[str]) -> dict[str, Tool]:
    """The installed real tools with these names (all of them when none is named)."""
    real = load_toolset().real
    wanted = set(names)
    if unknown := sorted(wanted - set(real)):
        raise ConfigError(f"no installed real tool named {', '.join(unknown)}")
    return {name: tool for name, tool in real.items() if not wanted or name in wanted}


def _named(hook: str, kind: str) -> dict[str, Any]:
    def key(name: str, factory: Any) -> tuple[str, Any]:
        return name, factory

    return dict(collect(hook, kind, key).items)


def _pick(factories: Mapping[str, Any], kind: str, name: str) -> Any:
    if name not in factories:
        raise ConfigError(f"unknown {kind} {name!r}; installed: {', '.join(sorted(factories))}")
    return factories[name]


def planner_factories() -> dict[str, PlannerFactory]:
    """Planner factories by name (``register_planners``)."""
    return _named("register_planners", "planner")


def planner_factory(name: str) -> PlannerFactory:
    """The factory of planner ``name``; a one-line error listing the installed ones."""
    return _pick(planner_factories(), "planner", name)


def get_planner(name: str, *, tools: Mapping[str, Tool], llm: LLM, **options: Any) -> Planner:
    return planner_factory(name)(tools=tools, llm=llm, **options)


def evaluator_factories() -> dict[str, EvaluatorFactory]:
    """Evaluator factories by name (``register_evaluators``)."""
    return _named("register_evaluators", "evaluator")


def evaluator_factory(name: str) -> EvaluatorFactory:
    """The factory of evaluator ``name``; a one-line error listing the installed ones."""
    return _pick(evaluator_factories(), "evaluator", name)


def get_evaluator(name: str, *, llm: LLM, **options: Any) -> Evaluator:
    return evaluator_factory(name)(llm=llm, **options)


def llm_backends() -> dict[str, Backend]:
    """Backends registered by every loaded plugin, by prefix."""

    def key(prefix: str, factory: LLMFactory, help: str = "") -> tuple[str, Backend]:
        return prefix, Backend(prefix, factory, help)

    return dict(collect("register_llms", "LLM backend", key).items)


def get_llm(spec: str, **options: Any) -> LLM:
    """Create the LLM for ``spec``; keyword options override options in the spec."""
    prefix, name, spec_options = parse_spec(spec)
    backends = llm_backends()
    if prefix not in backends:
        known = ", ".join(sorted(backends)) or "none"
        raise ConfigError(f"unknown LLM backend prefix {prefix!r} in {spec!r}; known: {known}")
    factory = backends[prefix].factory
    merged = {**spec_options, **options}
    try:
        inspect.signature(factory).bind(name, **merged)
    except TypeError as exc:
        raise ConfigError(f"bad options for {spec!r}: {exc}") from exc
    try:
        return factory(name, **merged)
    except ValueError as exc:  # e.g. n_ctx=big
        raise ConfigError(f"bad option value in {spec!r}: {exc}") from exc


def shipped_planners() -> dict[str, ShippedPlanner]:
    """Every shipped planner the loaded plugins register, by name."""

    def key(shipped: ShippedPlanner) -> tuple[str, ShippedPlanner]:
        if not isinstance(shipped, ShippedPlanner):
            raise ConfigError(f"register() expects a ShippedPlanner, got {shipped!r}")
        return shipped.name, shipped

    return dict(collect("register_planner_models", "shipped planner", key).items)
