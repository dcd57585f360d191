"""Putting an agent together: which planner and models run, then the agent itself.

Every command that runs the agent (`gba run`, `gba sim trajectories` and `eval`, the
real-environment benchmark) comes here, so the rules are the same everywhere: a model
the user chose is used as given; on the embedded default a shipped planner that knows
every installed tool runs, with its tool-role adapter; `fine-tuned` with nothing to run
it on is an error rather than the bare base model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gba_core import registry, tracing
from gba_core.agent import Agent
from gba_core.config import llm_spec_for
from gba_core.llm import LLM
from gba_core.registry import get_planner, shipped_planners
from gba_core.shipped import PlannerChoice, choose_planner, choose_tool_llm
from gba_core.tools import Tool, ToolMode


@dataclass(frozen=True)
class AgentModels:
    """The planner and the model specs a run uses, and why."""

    tool_spec: str
    choice: PlannerChoice

    @property
    def planner(self) -> str:
        return self.choice.planner

    @property
    def planner_spec(self) -> str:
        return self.choice.llm_spec

    def load(self) -> tuple[LLM, LLM]:
        """The planner's model and the tools' model, loaded once when they are the same."""
        planner_llm = registry.get_llm(self.planner_spec)
        same = self.tool_spec == self.planner_spec
        return planner_llm, planner_llm if same else registry.get_llm(self.tool_spec)

    @property
    def note(self) -> str | None:
        """One line for the user when gba chose something they might not expect."""
        return self.choice.note


def choose_models(
    planner: str | None,
    choices: Mapping[str, str | None],
    tool_names: Iterable[str],
    *,
    mode: ToolMode = "real",
) -> AgentModels:
    """The planner and models for a run. ``planner`` is the one the user named (None:
    gba chooses); ``choices`` are the user's model specs by role (``default``,
    ``planner``, ``tool``, ``simulator``: what the command line gave, None where not).
    Twins keep the simulator's model; real tools get the shipped tool-role adapter when
    the user chose no tool model."""
    planner_spec, planner_source = llm_spec_for("planner", choices)
    tool_role = "simulator" if mode == "simulated" else "tool"
    tool_spec, tool_source = llm_spec_for(tool_role, choices)
    choice = choose_planner(planner, planner_spec, planner_source, tool_names, shipped_planners())
    if mode == "real":
        tool_spec = choose_tool_llm(tool_spec, tool_source, choice)
    return AgentModels(tool_spec, choice)


def build_agent(
    planner: str,
    tools: Mapping[str, Tool],
    *,
    planner_llm: LLM,
    tool_llm: LLM | None = None,
    planner_options: Mapping[str, Any] | None = None,
    **agent_options: Any,
) -> Agent:
    """Planner ``planner`` on ``planner_llm`` in front of ``tools``, their LLM work done
    by ``tool_llm`` (default: the planner's). ``planner_options`` go to the planner's
    factory (sampling); ``agent_options`` to ``Agent``."""
    # tracer=None turns tracing off whatever GBA_OTEL says; not given, GBA_OTEL decides.
    tracer = agent_options.pop("tracer") if "tracer" in agent_options else tracing.tracer()
    if tracer is not None:  # every LLM call becomes a span; with tracing off, nothing wraps
        planner_llm = tracing.TracedLLM(planner_llm, tracer)
        tool_llm = tracing.TracedLLM(tool_llm, tracer) if tool_llm is not None else planner_llm
    made = get_planner(planner, tools=tools, llm=planner_llm, **dict(planner_options or {}))
    return Agent(
        made, tools, tool_llm=tool_llm, planner_name=planner, tracer=tracer, **agent_options
    )
