"""Planners decide the next task and tool. Both built-ins constrain ``selected_tool`` to
the installed tools; they differ in the prompt:

* ``zero-shot`` lists every tool with its description;
* ``fine-tuned`` lists nothing: a model fine-tuned on packaged trajectories knows the
  tools already, so its prompt is short and fast;
* ``fine-tuned-brief`` has the same prompt, and its plan is only the tool and the task,
  so a step writes a third of the tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from gba_core.config import load_settings
from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, Contrast, Message, accepts_contrast
from gba_core.prompts import render_planner_prompt
from gba_core.schema import Plan, Scratchpad, plan_model, plan_token_budget
from gba_core.tools import Tool, tool_descriptions


@dataclass
class PlanResult:
    plan: Plan
    completion: Completion


@runtime_checkable
class Planner(Protocol):
    llm: LLM

    def plan(
        self, request: str, scratchpad: Scratchpad, *, today: date | None = None
    ) -> PlanResult:
        """Plan the next step. ``today`` is the user's date; None leaves it out of the
        prompt (the agent passes the date its run started)."""
        ...


@dataclass(frozen=True)
class PlannerSettings:
    """``GBA_PLANNER_CONTRAST`` or ``[planner] planner_contrast`` in gba.toml: the weight
    of context-aware decoding for the final answer's task (``PromptPlanner.final_contrast``);
    0 is off. Unset, each planner keeps its own (``PromptPlanner.contrast``)."""

    planner_contrast: float | None = None


class PromptPlanner:
    """A planner defined by a prompt template and a plan schema.

    Subclasses (or plugins) set ``template`` / ``template_package``, ``plan_class`` for a
    plan with fields of its own (a ``Plan`` subclass), ``with_descriptions`` for tool
    descriptions in the prompt, ``tool_first`` for the order the plan is written in, and
    ``brief`` for a plan of only the tool and the task.
    """

    template: str = "planner_zero_shot.j2"
    template_package: str = "gba_core"
    plan_class: type[Plan] = Plan
    with_descriptions: bool = True
    tool_first: bool = True
    brief: bool = False
    # Context-aware decoding of the final answer's task (``final_contrast``); 0 is off.
    contrast: float = 0.0

    def __init__(
        self,
        tools: Mapping[str, Tool],
        llm: LLM,
        *,
        temperature: float = 0.0,
        seed: int | None = None,
        contrast: float | None = None,
    ) -> None:
        if not tools:
            raise ConfigError("a planner needs at least one tool")
        self.llm = llm
        self.tool_names = list(tools)
        self.tools = tool_descriptions(tools) if self.with_descriptions else self.tool_names
        self.schema: type[BaseModel] = plan_model(
            self.tool_names,
            plan_class=self.plan_class,
            tool_first=self.tool_first,
            brief=self.brief,
        )
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = plan_token_budget(self.plan_class, brief=self.brief)
        if contrast is None:
            contrast = load_settings("planner", PlannerSettings).planner_contrast
        if contrast is not None:
            if contrast < 0:
                raise ConfigError(f"contrast must be 0 or more, not {contrast}")
            self.contrast = contrast

    def messages(
        self, request: str, scratchpad: Scratchpad, *, today: date | None = None
    ) -> list[Message]:
        return render_planner_prompt(
            self.template,
            request=request,
            scratchpad=scratchpad,
            tools=self.tools,
            today=today,
            package=self.template_package,
        )

    def plan(
        self, request: str, scratchpad: Scratchpad, *, today: date | None = None
    ) -> PlanResult:
        messages = self.messages(request, scratchpad, today=today)
        extra: dict[str, Any] = {}
        if self.contrast > 0 and scratchpad and accepts_contrast(self.llm):
            extra["contrast"] = self.final_contrast(request, scratchpad, today)
        completion = self.llm.complete(
            messages,
            schema=self.schema,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.step_seed(messages),
            **extra,
        )
        # The planner's plan class, not the per-tool-set model, so steps serialise cleanly.
        plan = self.plan_class(**completion.parsed.model_dump())
        return PlanResult(plan=plan, completion=completion)

    def final_contrast(self, request: str, scratchpad: Scratchpad, today: date | None) -> Contrast:
        """Context-aware decoding for the final answer's task: the results weigh against
        the same prompt with every result blanked, from when the plan names
        ``final_answer``. A small planner's final task otherwise drops or invents what
        the results say (the volcano left unnamed, the years just computed left out)."""
        blank = [entry.model_copy(update={"result": ""}) for entry in scratchpad]
        return Contrast(
            self.messages(request, blank, today=today),
            self.contrast,
            # The tool's name as the plan's JSON writes it, quotes included.
            after='"final_answer"',
        )

    def step_seed(self, messages: list[Message]) -> int | None:
        """The sampling seed of one call, from the planner's seed and the prompt.

        Backends seed a fresh generator per call, so one seed for every call would draw
        the same numbers at every step: with the tool sampled first, every step of a run
        would pick the same quantile of its tool distribution (one seed scored 0.56 on
        held-out steps where the others scored 0.75-0.79). Mixing in the prompt keeps a
        run reproducible and its steps independent.
        """
        if self.seed is None:
            return None
        key = json.dumps([self.seed, messages], sort_keys=True).encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:4], "big")


class ZeroShotPlanner(PromptPlanner):
    template = "planner_zero_shot.j2"
    with_descriptions = True
    # An untrained model that names the tool first loses the thread of the request in
    # the text after it (the 270M wrote "The search results are not yet available" as
    # its task); reasoning first, it writes the task it then picks a tool for.
    tool_first = False


class FineTunedPlanner(PromptPlanner):
    template = "planner_fine_tuned.j2"
    with_descriptions = False
    # A small model's final tasks drop or invent what the results say; weighed against
    # the results blanked, they keep it (bench/README.md has the benchmark runs).
    contrast = 0.5


class BriefPlanner(FineTunedPlanner):
    """A fine-tuned planner that writes no summary and no thoughts. The tool comes first,
    so they never shaped its choice; they only preceded the task, and they are where a
    small model restated facts wrongly before copying them into the task."""

    brief = True


PlannerFactory = Callable[..., Planner]
"""``factory(tools=..., llm=..., **options)``, as ``register_planners`` gives it."""
