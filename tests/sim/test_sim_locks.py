"""One process at a time per run."""

import os

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_sim.db import RunsDB
from gba_sim.locks import run_lock


def test_a_second_process_on_a_busy_run_gets_one_line(tmp_path, lookup_plugin, scripted_backend):
    db_path = tmp_path / "runs.sqlite"
    RunsDB(db_path).add_requests([Request(id="q1", text="Question?")])
    args = ["sim", "trajectories", "--db", str(db_path), "--llm", "scripted:t", "--run", "r1"]
    with run_lock(db_path, "r1", "making its trajectories"):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == (
            f"Error: run 'r1' is busy: pid {os.getpid()} is making its trajectories; "
            "wait for it to finish, or use another --run"
        )
        # another run of the same database is not held up
        with run_lock(db_path, "r2", "rating it"):
            pass
    with run_lock(db_path, "r1", "rating it"):  # released when the holder is done
        pass
