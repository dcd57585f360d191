"""A budget stops a spending command cleanly: finished work kept, a rerun goes on."""

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_sim.db import RunsDB


def stored(db_path):
    return len(RunsDB(db_path).done_request_ids("r1"))


def test_trajectories_and_rating_stop_at_the_budget_and_resume(tmp_path, lookup_roles, monkeypatch):
    db_path = tmp_path / "runs.sqlite"
    RunsDB(db_path).add_requests([Request(id=f"q{i}", text=f"Question {i}?") for i in range(3)])
    args = ["sim", "trajectories", "--db", str(db_path), "--run", "r1", "--llm", "scripted:a"]
    # one trajectory is 4 calls (two plans, the twin, the answer): 3 stops after the first
    result = CliRunner().invoke(cli, [*args, "--max-calls", "3"])
    assert result.exit_code == 1, result.output
    assert "r1: 1 completed" in result.output
    assert "Error: budget reached (calls 4 of 3): stopped here;" in result.output
    assert stored(db_path) == 1
    # the budget may come from gba.toml as well
    (tmp_path / "gba.toml").write_text("[sim.budget]\nmax_tokens = 1\n")
    monkeypatch.setenv("GBA_CONFIG", str(tmp_path / "gba.toml"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "budget reached (tokens" in result.output
    assert stored(db_path) == 2
    monkeypatch.delenv("GBA_CONFIG")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and stored(db_path) == 3
    rate = ["sim", "rate", "--db", str(db_path), "--run", "r1", "--judge-llm", "scripted:a"]
    result = CliRunner().invoke(cli, [*rate, "--max-calls", "1"])
    assert result.exit_code == 1 and "rated 1 trajectories" in result.output
    assert "budget reached (calls" in result.output
    result = CliRunner().invoke(cli, rate)
    assert result.exit_code == 0 and "rated 2 trajectories" in result.output
