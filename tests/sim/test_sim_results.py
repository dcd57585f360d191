"""`gba sim rate`, `package`, `eval` and `compare` on runs made with the scripted
backend."""

import json

import pytest
from click.testing import CliRunner
from sim_helpers import reply, run

from gba_core.cli import cli
from gba_sim.db import RunsDB


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
    from gba_core.registry import load_toolset
    from gba_core.schema import scratchpad_of

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
