"""The offline loop (scripts/offline_loop.py), reduced to a few optimizer steps and a few
held-out steps and requests, end to end on the embedded model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / "scripts" / "offline_loop.py"


def test_the_reduced_loop_runs_every_stage_and_records_its_figures(tmp_path):
    out = tmp_path / "loop"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--reduced"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "loop.json").read_text())
    assert set(summary["stage_seconds"]) == {
        "starter",
        "package",
        "sft",
        "export",
        "eval-steps zero-shot",
        "eval-steps fine-tuned",
        "sim eval zero-shot",
        "sim eval fine-tuned",
        "compare",
    }
    report = json.loads((out / "planner" / "report.json").read_text())
    assert report["steps"] == 3 and report["examples"]["validation"] > 0
    assert (out / "planner" / "adapter.gguf").stat().st_size > 0
    # The fine-tuned planner reads no tool descriptions: its prompts are much shorter.
    tokens = summary["prompt_tokens"]
    assert tokens["fine-tuned"]["mean"] * 2 < tokens["zero-shot"]["mean"]
    # Both planners are grammar-constrained: every plan fits the schema.
    assert summary["valid_plan_rate"]["fine-tuned"]["mean"] == 1.0
    for planner in ("zero-shot", "fine-tuned"):
        evaluated = json.loads((out / f"sim-{planner}.json").read_text())
        assert evaluated["requests"] == 2
    assert (out / "compare.png").stat().st_size > 0
