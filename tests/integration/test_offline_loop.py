"""The offline loop (scripts/offline_loop.py), reduced to a few optimizer steps and a few
held-out steps and requests, end to end on the embedded model."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / "scripts" / "offline_loop.py"


def test_the_reduced_loop_runs_every_stage_and_records_its_figures(tmp_path):
    out = tmp_path / "loop"
    # Its own session: on a timeout the whole group goes, the gba stages included.
    loop = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--out", str(out), "--reduced"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = loop.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        os.killpg(loop.pid, signal.SIGKILL)
        raise
    assert loop.returncode == 0, stdout[-3000:] + stderr[-3000:]
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
    # eval-steps records how many tokens each plan took (what seconds per step follow)
    steps = json.loads((out / "steps-fine-tuned.json").read_text())
    written = [outcome["plan_tokens"] for outcome in steps["steps"][0]]
    assert all(n > 0 for n in written)
    assert steps["runs"][0]["plan_tokens"] == pytest.approx(sum(written) / len(written))
    for planner in ("zero-shot", "fine-tuned"):
        evaluated = json.loads((out / f"sim-{planner}.json").read_text())
        assert evaluated["requests"] == 2
    assert (out / "compare.png").stat().st_size > 0
