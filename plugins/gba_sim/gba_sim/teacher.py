"""The teacher: the strong model's planner for simulation, and its plan."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from gba_core.planners import PromptPlanner
from gba_core.schema import FIELD_MAX_CHARS, Plan


class TeacherPlan(Plan):
    """The teacher's plan adds two fields that help it reason, and writes the tool last:
    it restates the request and names what is missing before it chooses. Packaging
    keeps only ``Plan``'s fields, in ``Plan``'s order."""

    model_config = ConfigDict(extra="forbid")
    written_order: ClassVar[tuple[str, ...] | None] = (
        "user_request",
        "context_information_summary",
        "missing_information_or_action",
        "thoughts",
        "task",
        "selected_tool",
    )
    max_chars: ClassVar[dict[str, int]] = {
        **FIELD_MAX_CHARS,
        "user_request": 300,
        "missing_information_or_action": 200,
    }

    user_request: str = Field(description="The user's request, restated.")
    context_information_summary: str = Field(
        description="What is known so far from the request and previous results."
    )
    missing_information_or_action: str = Field(
        description="What is still missing or still has to be done."
    )
    thoughts: str = Field(description="Reasoning about what to do next.")

    def to_plan(self) -> Plan:
        return Plan(**self.core_fields())


class TeacherPlanner(PromptPlanner):
    """The strong model's planner for simulation: tool descriptions in the prompt and a
    plan that restates the request and names what is missing before choosing."""

    template = "planner_teacher.j2"
    template_package = __package__
    plan_class = TeacherPlan
    with_descriptions = True
