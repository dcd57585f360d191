"""gba sim eval reuses a run only when everything that shapes it matches."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import ConfigError, LLMUnavailableError
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


def test_the_eval_use_case_runs_its_stages_through_the_caller(db_path):
    """gba_sim.evaluate is the use case without the command: the caller runs each stage
    (the command shows progress and stops at a budget), and gets the series back."""
    from gba_sim.evaluate import EvalOptions, evaluate
    from gba_sim.rate import rate_run
    from gba_sim.trajectories import run_trajectories

    seen = []

    class Stages:
        def trajectories(self, label, db, requests, config):
            seen.append((label, [r.id for r in requests], config.seed))
            run_trajectories(db, requests, config)

        def ratings(self, label, db, run_id, judge_spec, judge):
            seen.append((label, run_id.rsplit(":", 1)[-1]))
            rate_run(db, run_id, judge_spec)

    options = EvalOptions(
        planner="teacher",
        planner_llm="scripted:t",
        simulator_llm="scripted:t",
        judge_llm="scripted:t",
        repeats=2,
        split="a",
        seed=5,
    )
    result = evaluate(db_path, options, Stages())
    assert seen == [
        ("run 1/2", ["a0", "a1"], 5),
        ("run 1/2 judged", "0"),
        ("run 2/2", ["a0", "a1"], 6),
        ("run 2/2 judged", "1"),
    ]
    assert result.series == "teacher@scripted:t" and len(result.run_ids) == 2
    assert result.metrics["completion_rate"]["mean"] == 1.0
    assert result.to_json()["runs"] == 2
    with pytest.raises(ConfigError, match="no requests in split c"):
        evaluate(db_path, EvalOptions(planner="teacher", split="c"), Stages())
