"""`gba sim trajectories` on the scripted backend: resumable, cached, failures kept."""

import json

import pytest
from click.testing import CliRunner
from sim_helpers import reply, run, stored, teacher_plan

from gba_core.cli import cli
from gba_core.errors import LLMUnavailableError
from gba_core.schema import Request, Trajectory
from gba_sim.db import RunsDB
from gba_sim.export import canonical_json


def test_trajectories_are_generated_stored_and_not_redone(sim_db, scripted_backend):
    result = run(sim_db, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "r1: 3 completed" in result.output
    rows = stored(sim_db)
    assert [(r[0], r[1]) for r in rows] == [
        ("q0", "completed"),
        ("q1", "completed"),
        ("q2", "completed"),
    ]
    trajectory = json.loads(rows[0][2])
    assert [s["plan"]["selected_tool"] for s in trajectory["steps"]] == [
        "lookup_fact",
        "final_answer",
    ]
    assert trajectory["steps"][0]["observation"] == "FACT-FOUND: 42"
    assert trajectory["tool_mode"] == "simulated" and trajectory["planner"] == "teacher"
    calls = len(scripted_backend.calls)
    again = run(sim_db)
    assert "nothing new (3 were already done)" in again.output
    assert len(scripted_backend.calls) == calls  # a finished run costs nothing


def test_a_lost_trajectory_is_redone_from_the_cache(sim_db, scripted_backend):
    run(sim_db)
    before = {r[0]: json.loads(r[2]) for r in stored(sim_db)}
    db = RunsDB(sim_db)
    with db.transaction() as con:  # as if the process died before saving q1
        con.execute("DELETE FROM steps WHERE trajectory_id = 'r1:q1'")
        con.execute("DELETE FROM trajectories WHERE id = 'r1:q1'")
    db.close()
    calls = len(scripted_backend.calls)
    result = run(sim_db)
    assert "r1: 1 completed (2 were already done)" in result.output
    assert len(scripted_backend.calls) == calls  # every call replayed from the cache
    after = {r[0]: json.loads(r[2]) for r in stored(sim_db)}
    # The same content, byte for byte; only timings are measured anew.
    as_saved = {
        k: Trajectory.model_validate(v)
        for k, v in (("before", before["q1"]), ("after", after["q1"]))
    }
    assert canonical_json(as_saved["after"]) == canonical_json(as_saved["before"])
    status = json.loads(
        CliRunner().invoke(cli, ["sim", "status", "--db", str(sim_db), "--json"]).output
    )
    usage = status["runs"][0]
    assert usage["calls"] > usage["cached_calls"] > 0


def test_a_run_regenerated_with_the_same_seeds_is_byte_identical_and_free(
    sim_db, scripted_backend, tmp_path
):
    run(sim_db)
    calls = len(scripted_backend.calls)
    result = run(sim_db, "--run", "r1-again")  # a new run, the same seed
    assert "r1-again: 3 completed" in result.output
    assert len(scripted_backend.calls) == calls  # zero LLM calls
    for run_id in ("r1", "r1-again"):
        exported = CliRunner().invoke(
            cli,
            [
                "sim",
                "export",
                "--db",
                str(sim_db),
                "--run",
                run_id,
                "--out",
                str(tmp_path / run_id),
            ],
        )
        assert "3 trajectories and 0 ratings" in exported.output, exported.output
    files = sorted(p.name for p in (tmp_path / "r1" / "trajectories").iterdir())
    assert files == ["q0.json", "q1.json", "q2.json"]
    for name in files:
        first = (tmp_path / "r1" / "trajectories" / name).read_bytes()
        assert first == (tmp_path / "r1-again" / "trajectories" / name).read_bytes()
        assert b"FACT-FOUND: 42" in first and b"seconds" not in first.replace(b"_seconds", b"")


def test_direct_answer_simple_answers_with_the_planners_task(sim_db, scripted_backend):
    result = run(sim_db, "--direct-answer", "simple")
    assert "r1: 3 completed" in result.output, result.output
    trajectories = RunsDB(sim_db).trajectories("r1")
    assert [t.final_answer for t in trajectories] == ["Answer with the fact"] * 3
    # No call wrote an answer: the planner and the lookup twin only.
    assert not any("What to answer" in call.prompt for call in scripted_backend.calls)


def test_failure_rates_inject_seeded_failures_into_the_twins(sim_db, scripted_backend):
    result = run(sim_db, "--failure-rate", "lookup_fact=1")
    assert result.exit_code == 0, result.output
    twin_prompts = [c.prompt for c in scripted_backend.calls if "simulate the tool" in c.prompt]
    assert twin_prompts and all("This time the tool fails" in p for p in twin_prompts)
    scripted_backend.calls.clear()
    run(sim_db, "--failure-rate", "lookup_fact=0", "--run", "r0")
    twin_prompts = [c.prompt for c in scripted_backend.calls if "simulate the tool" in c.prompt]
    assert twin_prompts and not any("This time the tool fails" in p for p in twin_prompts)
    for bad, message in [
        ("lookup_fact=2", "expected TOOL=P"),
        ("no_such_tool=0.5", "failure rates for tools not installed: no_such_tool"),
    ]:
        result = run(sim_db, "--failure-rate", bad, "--run", "bad")
        assert result.exit_code != 0 and message in result.output, result.output


def test_prices_give_the_cost_of_calls_not_replayed(sim_db, scripted_backend):
    result = run(sim_db, "--price", "scripted:test=1000,2000")
    replay = run(sim_db, "--price", "scripted:test=1000,2000", "--run", "r2")
    first, second = RunsDB(sim_db).status()["runs"]
    expected = (first["prompt_tokens"] * 1000 + first["completion_tokens"] * 2000) / 1e6
    assert first["cost"] == pytest.approx(expected) and first["cost"] > 0
    assert f"${first['cost']:.4f}" in result.output  # the progress bar's running cost
    assert second["calls"] == second["cached_calls"] and second["cost"] == 0
    assert "0 tok $0.0000" in replay.output
    # Every call is kept with the trajectory it was made for.
    db = RunsDB(sim_db)
    calls = db.db.execute(
        "SELECT trajectory_id, role, cached, cost FROM calls WHERE run_id = 'r1'"
    ).fetchall()
    assert len(calls) == first["calls"]
    assert {c[0] for c in calls} == {"r1:q0", "r1:q1", "r1:q2"}
    assert {c[1] for c in calls} == {"planner", "simulator"}
    assert sum(c[3] for c in calls) == pytest.approx(first["cost"])
    text = CliRunner().invoke(cli, ["sim", "status", "--db", str(sim_db)]).output
    assert "r1  (trajectories, planner teacher)" in text
    assert f"trajectories: completed 3; rated 0; {first['calls']} calls (0 from the cache)" in text
    assert f"cost ${first['cost']:.4f}" in text
    bad = run(sim_db, "--price", "scripted:test=cheap")
    assert bad.exit_code == 2 and "expected a prompt and a completion price" in bad.output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("sim = 3\n", "[sim] must be a table"),
        ("[sim]\nprices = 3\n", "[sim.prices] must be a table"),
    ],
)
def test_a_sim_setting_that_is_not_a_table_is_a_one_line_error(
    tmp_path, monkeypatch, toml, message
):
    from gba_core.errors import ConfigError
    from gba_sim.usage import load_prices

    (tmp_path / "gba.toml").write_text(toml)
    monkeypatch.setenv("GBA_CONFIG", str(tmp_path / "gba.toml"))
    with pytest.raises(ConfigError) as raised:
        load_prices()
    assert str(raised.value) == f"{tmp_path / 'gba.toml'}: {message}"


def test_backend_failures_are_kept_as_failed_items_and_retried(sim_db, scripted_backend):
    db = RunsDB(sim_db)
    db.add_requests([Request(id="q9", text="Please FAIL here")])
    db.close()
    result = run(sim_db)
    assert result.exit_code == 0 and "3 completed, 1 failed" in result.output
    failed = next(r for r in stored(sim_db) if r[0] == "q9")
    assert failed[1] == "failed" and "backend down" in json.loads(failed[2])["error"]
    scripted_backend.default = lambda call: (
        reply(call)
        if "FAIL" not in call.prompt
        else (teacher_plan("final_answer", "Say it failed") if call.schema else "Recovered.")
    )
    again = run(sim_db)
    assert "r1: 1 completed (3 were already done)" in again.output
    assert [r[1] for r in stored(sim_db) if r[0] == "q9"] == ["completed"]


def test_a_backend_that_fails_every_item_is_a_non_zero_exit(sim_db, scripted_backend):
    def down(call):
        raise LLMUnavailableError("cannot reach http://127.0.0.1:9/v1")

    scripted_backend.default = down
    result = CliRunner().invoke(
        cli, ["sim", "trajectories", "--db", str(sim_db), "--llm", "scripted:test", "--run", "r1"]
    )
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == (
        "Error: all 3 trajectories failed with the same error: LLM backend failed: cannot reach "
        "http://127.0.0.1:9/v1 (they are recorded as failed and retried on the next run)"
    )
    assert [r[1] for r in stored(sim_db)] == ["failed"] * 3


def test_no_requests_is_a_clear_error(tmp_path, scripted_backend):
    RunsDB(tmp_path / "x.sqlite").close()  # a database without requests
    result = CliRunner().invoke(
        cli, ["sim", "trajectories", "--db", str(tmp_path / "x.sqlite"), "--llm", "scripted:t"]
    )
    assert result.exit_code == 2 and "no requests in" in result.output
