"""gba sim eval reuses a run only when everything that shapes it matches."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import LLMUnavailableError
from gba_core.schema import Request
from gba_sim.db import RunsDB


@pytest.fixture
def db_path(tmp_path, lookup_roles):
    play = lookup_roles.default

    def reply(call):
        if "NEVER" in call.prompt:  # split b's requests never get an answer
            raise LLMUnavailableError("backend down")
        return play(call)

    lookup_roles.default = reply
    path = tmp_path / "runs.sqlite"
    RunsDB(path).add_requests(
        [Request(id=f"a{i}", text=f"Question {i}?", split="a") for i in range(2)]
        + [Request(id=f"b{i}", text=f"NEVER {i}", split="b") for i in range(2)]
    )
    return path


def evaluate(db_path, tmp_path, *extra):
    out = tmp_path / "summary.json"
    args = ["sim", "eval", "--db", str(db_path), "--planner", "teacher"]
    args += ["--planner-llm", "scripted:t", "--simulator-llm", "scripted:t"]
    args += ["--judge-llm", "scripted:t", "--runs", "1", "--json", str(out), *extra]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_another_request_set_is_another_run_and_counts_only_its_own(db_path, tmp_path):
    a = evaluate(db_path, tmp_path, "--requests", "a")
    assert a["metrics"]["completion_rate"]["mean"] == 1.0
    b = evaluate(db_path, tmp_path, "--requests", "b")
    assert b["run_ids"] != a["run_ids"]
    assert b["metrics"]["completion_rate"]["mean"] == 0.0  # was 0.5: a's runs counted


def test_changed_settings_start_new_runs_and_the_same_ones_reuse(db_path, tmp_path):
    first = evaluate(db_path, tmp_path, "--requests", "a")
    assert evaluate(db_path, tmp_path, "--requests", "a")["run_ids"] == first["run_ids"]
    for extra in (["--max-steps", "3"], ["--temperature", "0.2"], ["--seed", "1"]):
        assert (
            evaluate(db_path, tmp_path, "--requests", "a", *extra)["run_ids"] != first["run_ids"]
        ), extra
    fresh = evaluate(db_path, tmp_path, "--requests", "a", "--fresh")
    assert fresh["run_ids"] != first["run_ids"]
    assert fresh["identity"]["tools"] and fresh["identity"]["models"]["planner"]
