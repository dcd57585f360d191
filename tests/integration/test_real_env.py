"""A reduced run of the real-environment benchmark (bench/real_env.py): real tools,
fresh calendar, outbox and answers file per request, every outcome scored."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IDS = ["re-001", "re-026"]  # a fact, a calculation


def test_a_reduced_real_environment_run_scores_every_request(tmp_path):
    out = tmp_path / "real_env.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "real_env.py"),
            "--config",
            "shipped",
            "--ids",
            ",".join(IDS),
            "--dates",
            "2027-03-15",
            "--max-steps",
            "4",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())["configs"]["shipped"]
    outcomes = report["outcomes"]
    assert sorted(o["id"] for o in outcomes) == IDS
    for outcome in outcomes:
        assert outcome["passed"] == (outcome["stage"] is None)
        assert outcome["stage"] in (None, "choice", "tool", "answer")
        assert 1 <= outcome["steps"] <= 4 and outcome["seconds"] > 0
    summary = report["summary"]
    assert summary["requests"] == len(IDS)
    assert 0.0 <= summary["pass_rate"]["mean"] <= 1.0
    assert summary["median_seconds"] <= summary["p90_seconds"]
