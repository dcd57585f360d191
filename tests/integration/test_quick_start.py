"""The README's first command answers the README's question, with every plugin
installed, under any date (the planner prompt carries the date)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.registry import shipped_planners
from gba_core.schema import Trajectory

QUESTION = "Who directed the film Jaws?"


@pytest.mark.parametrize("today", ["2026-12-07", "2027-03-15", "2027-07-01"])
def test_the_quick_start_question_is_answered(today, monkeypatch):
    for name in (
        "GBA_PLUGINS",
        "GBA_DISABLE_PLUGINS",
        "GBA_LLM",
        "GBA_PLANNER_LLM",
        "GBA_TOOL_LLM",
    ):
        monkeypatch.delenv(name, raising=False)
    gba = str(Path(sys.executable).with_name("gba"))
    proc = subprocess.run(
        [gba, "run", QUESTION, "--today", today, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    trajectory = Trajectory.model_validate(json.loads(proc.stdout))
    shipped = shipped_planners()["gemma-3-270m-planner"]
    assert trajectory.planner == shipped.manifest.planner and "lora=" in trajectory.planner_llm
    assert trajectory.today.isoformat() == today
    assert trajectory.status == "completed", [s.plan for s in trajectory.steps]
    assert "Spielberg" in trajectory.final_answer
