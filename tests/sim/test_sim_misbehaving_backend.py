"""`gba sim trajectories` against a misbehaving OpenAI-compatible server on loopback:
5xx, timeouts and invalid JSON are retried, then kept as items; the run goes on."""

import json
import time

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_core.testing import LoopbackOpenAI
from gba_sim.db import RunsDB


def plan(tool, task):
    return json.dumps(
        {
            "user_request": "r",
            "context_information_summary": "c",
            "missing_information_or_action": "m",
            "thoughts": "t",
            "task": task,
            "selected_tool": tool,
        }
    )


def reply(body):
    text = "\n".join(m["content"] for m in body["messages"])
    if "FAIL" in text:
        return 500, {"error": {"message": "internal error"}}
    if "SLOW" in text:
        time.sleep(2.5)
    if "response_format" in body:
        if "GARBAGE" in text:
            return "this is not json"
        if "FACT-FOUND" in text:
            return plan("final_answer", "Answer with the fact")
        return plan("lookup_fact", "Look up the fact")
    return "FACT-FOUND: 42" if "simulate the tool" in text else "It is 42."


@pytest.fixture
def server():
    with LoopbackOpenAI(reply) as loopback:
        yield loopback


def test_failures_are_retried_then_kept_and_the_run_goes_on(
    server, tmp_path, lookup_plugin, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests(
        [
            Request(id="ok", text="Question?"),
            Request(id="fail", text="Please FAIL"),
            Request(id="slow", text="Go SLOW"),
            Request(id="garbage", text="GARBAGE please"),
        ]
    )
    db.close()
    spec = server.spec("m", retries=1, backoff=0, timeout=1)
    result = CliRunner().invoke(
        cli,
        [
            "sim",
            "trajectories",
            "--db",
            str(db_path),
            "--llm",
            spec,
            "--max-steps",
            "3",
            "--run",
            "r",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    db = RunsDB(db_path)
    rows = dict(db.db.execute("SELECT request_id, status FROM trajectories").fetchall())
    assert rows == {"ok": "completed", "fail": "failed", "slow": "failed", "garbage": "max_steps"}
    fail_calls = [b for b in server.bodies if "FAIL" in b["messages"][-1]["content"]]
    assert len(fail_calls) == 2  # one retry
    garbage = next(t for t in db.trajectories("r") if t.request.id == "garbage")
    assert all(step.invalid_plan for step in garbage.steps)
    errors = dict(db.db.execute("SELECT request_id, error FROM trajectories").fetchall())
    assert "after 2 attempts: Error code: 500" in errors["fail"]
    assert "after 2 attempts: Request timed out" in errors["slow"]
    db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for file in tmp_path.glob("runs.sqlite*"):
        assert b"sk-test-not-a-real-key" not in file.read_bytes()
