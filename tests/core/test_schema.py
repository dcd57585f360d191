import json
from datetime import date
from typing import ClassVar

import pytest
from pydantic import ConfigDict, Field, ValidationError

from gba_core.schema import (
    FIELD_MAX_CHARS,
    Plan,
    Request,
    Step,
    Trajectory,
    plan_model,
    plan_schema,
    plan_token_budget,
)

PLAN = {
    "context_information_summary": "Nothing yet.",
    "thoughts": "Search first.",
    "task": "Find the population of Lyon.",
    "selected_tool": "search_wikipedia",
}


def test_plan_schema_enumerates_installed_tools():
    schema = plan_schema(["search_wikipedia", "final_answer"])
    assert schema["properties"]["selected_tool"]["enum"] == ["search_wikipedia", "final_answer"]
    assert set(schema["required"]) == set(Plan.model_fields)
    assert schema["properties"]["task"]["maxLength"] == FIELD_MAX_CHARS["task"]


def test_plan_model_rejects_unknown_tool_and_overlong_text():
    model = plan_model(["search_wikipedia", "final_answer"])
    assert model.model_validate(PLAN).selected_tool == "search_wikipedia"
    with pytest.raises(ValidationError):
        model.model_validate({**PLAN, "selected_tool": "send_email"})
    with pytest.raises(ValidationError):
        model.model_validate({**PLAN, "task": "x" * (FIELD_MAX_CHARS["task"] + 1)})
    with pytest.raises(ValidationError):
        model.model_validate({**PLAN, "extra": 1})


def test_plan_model_needs_a_tool():
    with pytest.raises(ValueError):
        plan_model([])


class NotedPlan(Plan):
    """A planner's plan class of its own: one added field, written first, tool last."""

    model_config = ConfigDict(extra="forbid")
    written_order: ClassVar[tuple[str, ...] | None] = ("note", "task", "selected_tool")
    max_chars: ClassVar[dict[str, int]] = {**FIELD_MAX_CHARS, "note": 50}

    note: str = Field(description="A note to self.")


def test_a_plan_class_of_its_own_is_written_in_its_order_and_stored_whole():
    schema = plan_schema(["final_answer"], plan_class=NotedPlan)
    assert list(schema["properties"]) == ["note", "task", "selected_tool"]
    assert schema["properties"]["note"]["maxLength"] == 50
    assert plan_token_budget(NotedPlan) == 50 + FIELD_MAX_CHARS["task"] + 128
    plan = NotedPlan(note="look it up", task="Find it.", selected_tool="final_answer")
    step = Step(index=0, plan=plan, observation="found")
    again = Step.model_validate_json(step.model_dump_json())
    assert again.plan is not None and again.plan.model_extra == {"note": "look it up"}
    assert again.plan.core_fields() == {
        "selected_tool": "final_answer",
        "context_information_summary": "",
        "thoughts": "",
        "task": "Find it.",
    }


def test_trajectory_round_trips_through_json():
    trajectory = Trajectory(
        request=Request(text="How many people live in Lyon?"),
        steps=[Step(index=0, plan=Plan(**PLAN), observation="522,000")],
        final_answer="About 522,000.",
        status="completed",
    )
    again = Trajectory.model_validate_json(trajectory.model_dump_json())
    assert again == trajectory
    assert again.scratchpad[0].task == PLAN["task"]
    assert again.scratchpad[0].result == "522,000"


def test_trajectory_status_is_constrained_and_request_not_empty():
    with pytest.raises(ValidationError):
        Trajectory(request=Request(text="x"), status="crashed")
    with pytest.raises(ValidationError):
        Request(text="")


def test_a_training_row_is_typed_and_keeps_only_the_fields_it_was_given():
    from gba_core.schema import ScratchpadEntry, TrainingExample

    plan = '{"selected_tool": "search_wikipedia", "task": "Who directed Jaws?"}'
    step = TrainingExample.model_validate(
        {
            "prompt": [{"role": "user", "content": "Request: Who directed Jaws?"}],
            "completion": [{"role": "assistant", "content": plan}],
            "request": "Who directed Jaws?",
            "scratchpad": [ScratchpadEntry(task="t", tool="x", result="r")],
            "today": date(2026, 11, 2),
        }
    )
    assert step.is_planner_step and step.expected_tool() == "search_wikipedia"
    written = json.loads(step.to_json())
    assert list(written) == ["prompt", "completion", "request", "scratchpad", "today"]
    assert TrainingExample.model_validate_json(step.to_json()) == step
    role = TrainingExample.model_validate(
        {"prompt": step.prompt, "completion": step.completion, "role": "send_email/arguments"}
    )
    assert not role.is_planner_step and role.messages()[-1]["role"] == "assistant"
    # What a reader must refuse: a row with a field no writer sets, or no completion.
    for bad in (
        {**written, "answer": "x"},
        {**written, "completion": []},
        {**written, "prompt": [{"role": "robot", "content": "hi"}]},
    ):
        with pytest.raises(ValueError):
            TrainingExample.model_validate_json(json.dumps(bad))
