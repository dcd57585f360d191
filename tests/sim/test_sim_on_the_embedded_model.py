"""The gba sim pipeline end to end on the embedded model, on a reduced request set
(quality is the 270M's; the plumbing is what is checked)."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_sim.db import RunsDB

pytestmark = pytest.mark.integration


def invoke(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_trajectories_rating_packaging_and_eval_on_the_embedded_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for role in ("LLM", "TEACHER_LLM", "SIMULATOR_LLM", "JUDGE_LLM", "PLANNER_LLM"):
        monkeypatch.delenv(f"GBA_{role}", raising=False)
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests(
        [
            Request(id="jaws", text="Who directed the film Jaws?", split="train"),
            Request(
                id="mail", text="Email ana@example.com that lunch moves to 1 pm.", split="test"
            ),
        ]
    )
    db.close()
    out = invoke("sim", "trajectories", "--db", str(db_path), "--max-steps", "2", "--run", "t")
    assert "(0 were already done)" in out
    invoke("sim", "rate", "--db", str(db_path), "--run", "t")
    dataset = tmp_path / "dataset"
    out = invoke(
        "sim",
        "package",
        "--db",
        str(db_path),
        "--run",
        "t",
        "--out",
        str(dataset),
        "--min-rating",
        "1",
        "--status",
        "completed",
        "--status",
        "max_steps",
        "--tokenizer",
        "llama-cpp:gemma-3-270m",
        "--max-tokens",
        "2048",
    )
    report = json.loads((dataset / "report.json").read_text())
    assert sum(report["trajectories"].values()) == 2 and "longer than 2048 tokens" in out
    summary = tmp_path / "eval.json"
    invoke(
        "sim",
        "eval",
        "--db",
        str(db_path),
        "--planner",
        "fine-tuned",
        "--runs",
        "1",
        "--requests",
        "test",
        "--max-steps",
        "2",
        "--json",
        str(summary),
    )
    metrics = json.loads(summary.read_text())["metrics"]
    assert 0.0 <= metrics["pass_rate"]["mean"] <= 1.0
    assert metrics["steps"]["mean"] >= 1
    status = json.loads(invoke("sim", "status", "--db", str(db_path), "--json"))
    runs = {r["run"]: r for r in status["runs"]}
    assert runs["t"]["calls"] > 0 and runs["t"]["rated"] == 2
    out = invoke("sim", "export", "--db", str(db_path), "--run", "t", "--out", "exported")
    assert out.startswith("2 trajectories and 2 ratings")


def test_requests_are_written_by_the_embedded_model(tmp_path):
    db_path = tmp_path / "requests.sqlite"
    args = ["--db", str(db_path), "--batches", "1", "--single-per-tool", "1"]
    out = invoke("sim", "requests", *args)
    requests = RunsDB(db_path).requests()
    assert f"{len(requests)} new requests" in out and requests
    assert all(r.text.strip() and r.split == "train" for r in requests)
    # Seeded and cached: the same command adds nothing the second time.
    assert invoke("sim", "requests", *args).startswith("0 new requests")
