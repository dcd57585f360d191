import json
from datetime import date

import pytest
from pydantic import ValidationError

from gba_core.schema import (
    FIELD_MAX_CHARS,
    Plan,
    Request,
    Step,
    TeacherPlan,
    Trajectory,
    plan_model,
    plan_schema,
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


def test_teacher_plan_has_its_fields_and_drops_them():
    schema = plan_schema(["final_answer"], teacher=True)
    assert list(schema["properties"])[:3] == [
        "user_request",
        "context_information_summary",
        "missing_information_or_action",
    ]
    teacher = TeacherPlan(user_request="Lyon?", missing_information_or_action="population", **PLAN)
    assert teacher.to_plan() == Plan(**PLAN)


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
