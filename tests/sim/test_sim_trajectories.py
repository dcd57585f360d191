"""`gba sim trajectories` on the scripted backend: resumable, cached, failures kept."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import LLMUnavailableError
from gba_core.schema import Request, Trajectory
from gba_sim.db import RunsDB
from gba_sim.export import canonical_json


def teacher_plan(tool, task):
    return {
        "user_request": "r",
        "context_information_summary": "c",
        "missing_information_or_action": "m",
        "thoughts": "t",
        "task": task,
        "selected_tool": tool,
    }


def reply(call):
    """Planner: look the fact up once, then answer. Twin and final answer: text."""
    prompt = call.prompt
    if "FAIL" in prompt:
        raise LLMUnavailableError("backend down")
    if call.schema is not None and call.schema.__name__ == "StepRating":
        good = "Look up the fact" in prompt.split("Step to rate:")[-1]
        return {
            "task_rating": 5 if good else 4,
            "tool_rating": 5,
            "result_rating": 4,
            "explanation": "fine",
        }
    if call.schema is not None and call.schema.__name__ == "FinalRating":
        return {"final_answer_rating": 5 if "42" in prompt else 2, "explanation": "ok"}
    if call.schema is not None:
        if "FACT-FOUND" in prompt:
            return teacher_plan("final_answer", "Answer with the fact")
        return teacher_plan("lookup_fact", "Look up the fact")
    if "simulate the tool lookup_fact" in prompt:
        return "FACT-FOUND: 42"
    return "The answer is 42."


@pytest.fixture
def sim_db(tmp_path, lookup_plugin, scripted_backend):
    scripted_backend.default = reply
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests([Request(id=f"q{i}", text=f"Question {i}?") for i in range(3)])
    db.close()
    return db_path


def run(db_path, *extra):
    args = [
        "sim",
        "trajectories",
        "--db",
        str(db_path),
        "--llm",
        "scripted:test",
        "--max-steps",
        "4",
        "--run",
        "r1",
        *extra,
    ]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def stored(db_path):
    db = RunsDB(db_path)
    rows = db.db.execute(
        "SELECT request_id, status, json FROM trajectories WHERE run_id = 'r1' ORDER BY request_id"
    ).fetchall()
    db.close()
    return rows


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


def test_the_judge_rates_each_step_and_the_final_answer_once(sim_db, scripted_backend):
    run(sim_db)
    rate = ["sim", "rate", "--db", str(sim_db), "--run", "r1", "--judge-llm", "scripted:test"]
    result = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "r1: rated 3 trajectories with judge:scripted:test" in result.output
    db = RunsDB(sim_db)
    rows = db.db.execute("SELECT judge, final_rating, json FROM ratings").fetchall()
    assert len(rows) == 3 and {r[0] for r in rows} == {"judge:scripted:test"}
    details = json.loads(rows[0][2])
    assert [s["task_rating"] for s in details["steps"]] == [5, 4]
    assert rows[0][1] == details["final_answer_rating"] == 5
    step_prompts = [
        c.prompt
        for c in scripted_backend.calls
        if c.schema is not None and c.schema.__name__ == "StepRating"
    ]
    assert "- lookup_fact: Look up a fact." in step_prompts[0]
    again = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert "rated 0 trajectories" in again.output


def test_an_api_key_in_a_model_spec_never_reaches_the_database_or_exports(sim_db, scripted_backend):
    secret = "sk-THIS-IS-SECRET"
    result = CliRunner().invoke(
        cli,
        [
            "sim",
            "trajectories",
            "--db",
            str(sim_db),
            "--llm",
            f"scripted:test?api_key={secret}",
            "--max-steps",
            "4",
            "--run",
            "r1",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    CliRunner().invoke(
        cli,
        [
            "sim",
            "rate",
            "--db",
            str(sim_db),
            "--run",
            "r1",
            "--judge-llm",
            f"scripted:test?api_key={secret}",
        ],
    )
    summary = sim_db.parent / "eval.json"
    evaluated = CliRunner().invoke(
        cli,
        ["sim", "eval", "--db", str(sim_db), "--planner", "zero-shot", "--max-steps", "2",
         "--planner-llm", f"scripted:test?api_key={secret}", "--simulator-llm",
         "scripted:test", "--judge-llm", "scripted:test", "--json", str(summary)],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert secret not in evaluated.output and summary.is_file()
    out = sim_db.parent / "exported"
    CliRunner().invoke(
        cli, ["sim", "export", "--db", str(sim_db), "--run", "r1", "--out", str(out)]
    )
    assert len(list(out.rglob("*.json"))) == 6
    db = RunsDB(sim_db)
    db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for file in [*sim_db.parent.glob(sim_db.name + "*"), *out.rglob("*"), summary]:
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file


def test_package_writes_one_example_per_step_split_by_trajectory(
    sim_db, scripted_backend, tmp_path
):
    from datasets import load_from_disk

    from gba_core.planners import FineTunedPlanner
    from gba_core.schema import scratchpad_of
    from gba_core.tools import load_toolset

    run(sim_db)
    out = tmp_path / "dataset"
    package = [
        "sim",
        "package",
        "--db",
        str(sim_db),
        "--run",
        "r1",
        "--out",
        str(out),
        "--val-size",
        "1",
    ]
    unrated = CliRunner().invoke(cli, package)
    assert unrated.exit_code == 2 and "gba sim rate" in unrated.output
    CliRunner().invoke(
        cli,
        ["sim", "rate", "--db", str(sim_db), "--run", "r1", "--judge-llm", "scripted:test"],
        catch_exceptions=False,
    )
    result = CliRunner().invoke(cli, package, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 trajectories kept" in result.output
    assert "4 train and 2 validation examples" in result.output
    train = [json.loads(line) for line in (out / "train.prompt_completion.jsonl").open()]
    validation = [json.loads(line) for line in (out / "validation.prompt_completion.jsonl").open()]
    assert {e["trajectory_id"] for e in train}.isdisjoint({e["trajectory_id"] for e in validation})
    plan = json.loads(train[0]["completion"][0]["content"])
    # The student chooses first: the teacher's reasoning-first plan is reordered.
    assert list(plan) == ["selected_tool", "context_information_summary", "thoughts", "task"]
    # The prompt is exactly the fine-tuned planner's at inference for that step.
    trajectory = RunsDB(sim_db).trajectories("r1")[0]
    example = next(
        e for e in train + validation if e["trajectory_id"] == trajectory.id and e["step"] == 1
    )
    planner = FineTunedPlanner(load_toolset().for_mode("simulated"), scripted_backend)
    expected = planner.messages(
        trajectory.request.text, scratchpad_of(trajectory.steps[:1]), today=trajectory.today
    )
    assert example["prompt"] == expected
    messages = [json.loads(line) for line in (out / "train.messages.jsonl").open()]
    assert messages[0]["messages"] == train[0]["prompt"] + train[0]["completion"]
    hf = load_from_disk(str(out / "hf"))
    assert hf["train"].num_rows == 4 and hf["validation"].num_rows == 2
    strict = CliRunner().invoke(
        cli,
        [*package[:-2], "--min-rating", "5", "--val-size", "0", "--out", str(tmp_path / "strict")],
    )
    assert "3 trajectories kept" in strict.output


def test_output_the_judge_cannot_rate_is_stored_once_not_retried(
    sim_db, scripted_backend, tmp_path
):
    from gba_core.errors import InvalidOutputError

    run(sim_db)

    def judge(call):
        if (
            call.schema is not None
            and call.schema.__name__ == "FinalRating"
            and ("Question 1?" in call.prompt)
        ):
            raise InvalidOutputError("output cut before the JSON was complete")
        return reply(call)

    scripted_backend.default = judge
    rate = ["sim", "rate", "--db", str(sim_db), "--run", "r1", "--judge-llm", "scripted:test"]
    result = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert "rated 2 trajectories" in result.output
    assert "1 with output the judge could not rate" in result.output
    calls = len(scripted_backend.calls)
    again = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert "rated 0 trajectories" in again.output and len(scripted_backend.calls) == calls
    package = CliRunner().invoke(
        cli,
        ["sim", "package", "--db", str(sim_db), "--run", "r1", "--out", str(tmp_path / "d")],
        catch_exceptions=False,
    )
    assert "2 trajectories kept (dropped: 1 judge failed)" in package.output


def test_eval_reports_mean_and_standard_error_over_runs(sim_db, scripted_backend, tmp_path):
    def judge(call):
        # The judge finds the answering task of request q2 poor: one bad task in six steps.
        if (
            call.schema is not None
            and call.schema.__name__ == "StepRating"
            and ("Question 2?" in call.prompt and "Answer with the fact" in call.prompt)
        ):
            return {"task_rating": 3, "tool_rating": 5, "result_rating": 4, "explanation": "x"}
        return reply(call)

    scripted_backend.default = judge
    out = tmp_path / "eval.json"
    png = tmp_path / "eval.png"
    args = [
        "sim",
        "eval",
        "--db",
        str(sim_db),
        "--planner",
        "teacher",
        "--planner-llm",
        "scripted:test",
        "--simulator-llm",
        "scripted:test",
        "--judge-llm",
        "scripted:test",
        "--runs",
        "2",
        "--max-steps",
        "4",
        "--json",
        str(out),
        "--plot",
        str(png),
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    metrics = summary["metrics"]
    assert summary["runs"] == 2 and summary["requests"] == 3
    assert metrics["pass_rate"]["mean"] == 1.0 and metrics["pass_rate"]["stderr"] == 0.0
    assert metrics["completion_rate"]["values"] == [1.0, 1.0]
    assert metrics["bad_task_rate"]["values"] == [pytest.approx(1 / 6)] * 2
    assert metrics["steps"]["mean"] == 2.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pass_rate" in result.output and "1.000 ± 0.000" in result.output
    calls = len(scripted_backend.calls)
    CliRunner().invoke(cli, args, catch_exceptions=False)
    assert len(scripted_backend.calls) == calls  # runs already done are reused
    runs = RunsDB(sim_db).status()["runs"]
    assert [r["kind"] for r in runs if r["run"].startswith("eval:")] == ["eval", "eval"]


def test_metrics_count_bad_tasks_and_standard_errors():
    from gba_sim.metrics import summarize

    summary = summarize(
        [
            {
                m: v
                for m in (
                    "pass_rate",
                    "bad_task_rate",
                    "completion_rate",
                    "invalid_plan_rate",
                    "steps",
                    "prompt_tokens_per_step",
                    "seconds_per_step",
                )
            }
            for v in (0.5, 0.7)
        ]
    )
    assert summary["pass_rate"]["mean"] == pytest.approx(0.6)
    assert summary["pass_rate"]["stderr"] == pytest.approx(0.1)


def test_compare_puts_series_side_by_side_with_welch_tests(tmp_path):
    from gba_sim.metrics import summarize

    def summary(name, passes):
        runs = [
            {
                "pass_rate": p,
                "bad_task_rate": 0.1,
                "completion_rate": 1.0,
                "invalid_plan_rate": 0.0,
                "steps": 2.0,
                "prompt_tokens_per_step": 100.0,
                "seconds_per_step": 0.5,
            }
            for p in passes
        ]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"series": name, "metrics": summarize(runs)}))
        return str(path)

    a, b = summary("base", [0.5, 0.6, 0.55, 0.5]), summary("tuned", [0.9, 0.85, 0.95, 0.9])
    result = CliRunner().invoke(
        cli, ["sim", "compare", a, b, "--json", "--plot", str(tmp_path / "c.png")]
    )
    rows = json.loads(result.output)
    assert rows["pass_rate"]["base"]["p_vs_first"] is None
    assert rows["pass_rate"]["tuned"]["p_vs_first"] < 0.001
    assert rows["steps"]["tuned"]["p_vs_first"] is None  # identical, no variance
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    out = CliRunner().invoke(cli, ["sim", "compare", str(bad)])
    assert out.exit_code == 2 and "not a summary" in out.output
