"""`gba run` end to end on the embedded model, through the installed console script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.registry import load_toolset
from gba_core.schema import Trajectory
from gba_core.testing import check_plans


def gba() -> list[str]:
    script = Path(sys.executable).with_name("gba")
    return [str(script)] if script.exists() else [shutil.which("gba") or "gba"]


@pytest.mark.parametrize("planner", ["zero-shot", "fine-tuned"])
def test_gba_run_answers_on_the_embedded_model(planner):
    proc = subprocess.run(
        [*gba(), "run", "What is 17 times 23?", "--planner", planner, "--max-steps", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    trajectory = Trajectory.model_validate(json.loads(proc.stdout))
    assert trajectory.status in ("completed", "max_steps")
    if planner == "zero-shot":
        assert trajectory.planner_llm == "llama-cpp:gemma-3-270m"
    else:  # the shipped planner: the embedded model with its adapter
        assert trajectory.planner_llm.startswith("llama-cpp:gemma-3-270m?lora=")
    assert 1 <= len(trajectory.steps) <= 3
    check_plans(trajectory, load_toolset().names)
    assert all(step.planner_usage.completion_tokens > 0 for step in trajectory.steps)
    if trajectory.status == "completed":
        assert trajectory.final_answer
    else:
        assert trajectory.limit_answer  # gba run answers from the results at the limit


def test_gba_run_prints_steps_for_people():
    proc = subprocess.run(
        [*gba(), "run", "Name a primary colour.", "--max-steps", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "step 1" in proc.stdout and "task" in proc.stdout and "result" in proc.stdout
    assert "Answer:" in proc.stdout or "No final answer within 2 steps" in proc.stdout
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
