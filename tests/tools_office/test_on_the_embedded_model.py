"""The office tools' plumbing on the real embedded model (quality is the 270M's)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.registry import get_llm, load_toolset
from gba_core.schema import Trajectory
from gba_core.testing import check_plans
from gba_core.tools import ToolContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model():
    return get_llm("llama-cpp:gemma-3-270m")


def test_a_twin_answers_on_the_embedded_model(model):
    twin = load_toolset().simulated["send_email"]
    out = twin.run(
        "Invite Michael to watch the Winter Games",
        "Email michael@example.com inviting him to watch the Winter Games on February 8, 2026",
        [],
        ToolContext(llm=model),
    )
    assert isinstance(out, str) and out.strip()


def test_calculate_number_writes_code_that_runs_in_the_sandbox(model):
    tool = load_toolset().real["calculate_number"]
    out = tool.run("What is 17 times 23?", "Multiply 17 by 23", [], ToolContext(llm=model))
    assert out.startswith(("Result: ", "Error: ")), out


def test_create_event_fills_its_arguments_and_writes_the_calendar(model, office_env):
    tool = load_toolset().real["create_event"]
    out = tool.run(
        "Remind me of the dentist",
        "Create an event 'Dentist' on 2026-03-12 at 09:30",
        [],
        ToolContext(llm=model),
    )
    assert out.startswith("Event ")
    assert (office_env / "calendar.ics").read_bytes().count(b"BEGIN:VEVENT") == 1


def gba() -> str:
    return str(Path(sys.executable).with_name("gba"))


def test_gba_run_with_the_office_tools(office_env):
    proc = subprocess.run(
        [
            gba(),
            "run",
            "What is 17 times 23? Then add a calendar event 'Result' for tomorrow.",
            "--max-steps",
            "4",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    trajectory = Trajectory.model_validate(json.loads(proc.stdout))
    assert trajectory.status in ("completed", "max_steps")
    check_plans(trajectory, load_toolset().names)


def test_gba_run_calculates_and_creates_an_event_with_the_embedded_tool_llm(
    scripted_backend, office_env
):
    """The planner's choices are scripted (the base model cannot be relied on to pick
    these tools); the embedded model does the tools' work: code and event arguments."""
    from click.testing import CliRunner

    from gba_core.cli import cli
    from gba_core.testing import plan_answer

    scripted_backend.add(
        plan_answer("calculate_number", "Multiply 17 by 23"),
        plan_answer("create_event", "Create an event 'Dentist' on 2026-03-12 at 09:30"),
        plan_answer("final_answer", "Report the result and the event"),
    )
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "What is 17 times 23? Also put my dentist appointment in the calendar.",
            "--planner-llm",
            "scripted:planner",
            "--tool-llm",
            "llama-cpp:gemma-3-270m",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert [s["plan"]["selected_tool"] for s in steps] == [
        "calculate_number",
        "create_event",
        "final_answer",
    ]
    assert steps[0]["observation"].startswith(("Result: ", "Error: "))
    assert steps[1]["observation"].startswith("Event "), steps[1]["observation"]
    assert b"BEGIN:VEVENT" in (office_env / "calendar.ics").read_bytes()
