"""A resumed run must be made with what it was made with."""

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_sim.db import RunsDB


def test_a_resume_with_other_models_or_settings_is_refused_in_one_line(tmp_path, lookup_roles):
    db_path = tmp_path / "runs.sqlite"
    RunsDB(db_path).add_requests([Request(id="q1", text="Question?")])
    args = ["sim", "trajectories", "--db", str(db_path), "--run", "r1", "--llm", "scripted:a"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    again = CliRunner().invoke(cli, args)  # as it was: resumes (nothing left to do)
    assert again.exit_code == 0 and "nothing new (1 were already done)" in again.output
    for extra, changed in (
        (["--max-steps", "3"], "max_steps was 10, now 3"),
        (["--simulator-llm", "scripted:b"], "simulator was 'scripted:a', now 'scripted:b'"),
    ):
        result = CliRunner().invoke(cli, [*args, *extra])
        assert result.exit_code == 2, result.output
        line = result.output.strip().splitlines()[-1]
        assert line.startswith("Error: run 'r1' was made otherwise (")
        assert changed in line and line.endswith("or pass another --run for a new run")
