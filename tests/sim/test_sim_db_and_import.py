"""The runs database, the teacher planner, `gba sim import` and `gba sim status`."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import ConfigError
from gba_core.registry import get_planner, load_toolset
from gba_core.schema import Request, Step, Trajectory
from gba_core.testing import ScriptedLLM
from gba_sim.db import RunsDB
from gba_sim.db_schema import MIGRATIONS
from gba_sim.teacher import TeacherPlan


def test_a_new_database_is_migrated_and_reopening_changes_nothing(tmp_path):
    path = tmp_path / "runs.sqlite"
    db = RunsDB(path)
    assert db.version == len(MIGRATIONS)
    assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.add_requests([Request(id="r1", text="hello")])
    db.close()
    again = RunsDB(path)
    assert again.version == len(MIGRATIONS) and [r.id for r in again.requests()] == ["r1"]


def test_a_database_of_the_first_schema_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
    con.execute("INSERT INTO requests (id, text) VALUES ('old', 'kept?')")
    con.commit()
    con.close()
    db = RunsDB(path)
    assert db.version == len(MIGRATIONS) > 1
    assert [r.text for r in db.requests()] == ["kept?"]
    assert db.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0


def test_newer_or_broken_databases_are_clear_errors(tmp_path):
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(ConfigError, match="newer gba-sim"):
        RunsDB(newer)
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database" * 200)
    with pytest.raises(ConfigError, match="not a usable runs database"):
        RunsDB(broken)


def test_trajectories_round_trip_once_per_run_and_request(tmp_path):
    db = RunsDB(tmp_path / "runs.sqlite")
    request = Request(id="r1", text="How tall is it?")
    db.add_requests([request])
    db.ensure_run("run-a", kind="trajectories", planner="teacher", models={"teacher": "x"}, seed=1)
    plan = TeacherPlan(
        user_request="How tall?",
        context_information_summary="-",
        missing_information_or_action="the height",
        thoughts="look it up",
        task="Find the height",
        selected_tool="lookup_fact",
    )
    trajectory = Trajectory(
        request=request,
        steps=[Step(index=0, plan=plan, observation="330 m")],
        status="max_steps",
        seed=1,
    )
    db.save_trajectory("run-a", trajectory)
    assert db.done_request_ids("run-a") == {"r1"}
    assert db.trajectories("run-a")[0].model_dump_json() == trajectory.model_dump_json()
    with pytest.raises(sqlite3.IntegrityError):
        db.save_trajectory("run-a", trajectory.model_copy(update={"id": "other"}))
    step = db.db.execute("SELECT tool, task, observation FROM steps").fetchone()
    assert step == ("lookup_fact", "Find the height", "330 m")


def test_the_teacher_planner_asks_for_its_extra_fields(lookup_plugin):
    tools = load_toolset().for_mode("real")
    answer = {
        "user_request": "Find a fact",
        "context_information_summary": "nothing yet",
        "missing_information_or_action": "the fact",
        "thoughts": "look it up",
        "task": "Look up the fact",
        "selected_tool": "lookup_fact",
    }
    llm = ScriptedLLM([answer])
    planner = get_planner("teacher", tools=tools, llm=llm)
    result = planner.plan("Find a fact", [])
    assert isinstance(result.plan, TeacherPlan) and result.plan.selected_tool == "lookup_fact"
    prompt = llm.calls[0].prompt
    assert "missing_information_or_action" in prompt and "- lookup_fact: Look up a fact." in prompt
    schema = llm.calls[0].schema.model_json_schema()
    assert {"user_request", "missing_information_or_action"} <= set(schema["required"])


def seed_plan(tool, task):
    return {
        "user_request": "r",
        "context_information_summary": "c",
        "missing_information_or_action": "m",
        "thoughts": "t",
        "task": task,
        "selected_tool": tool,
    }


@pytest.fixture
def seed_output(tmp_path):
    """A folder in the original project's output layout."""
    root = tmp_path / "output"
    (root / "requests").mkdir(parents=True)
    (root / "trajectories").mkdir()
    (root / "evaluations").mkdir()
    batch = {
        "topic": "Space",
        "requests": [
            {"request": "When did Apollo 11 land?", "explanation": "one search"},
            {"request": "Who flew it?", "explanation": "one search"},
            {"request": "Search with Bing", "explanation": "unknown tool"},
        ],
    }
    (root / "requests" / "space.txt").write_text(
        "Here are the requests:\n```json\n" + json.dumps(batch) + "\n```\n"
    )
    (root / "requests" / "broken.txt").write_text("no json here")
    (root / "trajectories" / "space_0.json").write_text(
        json.dumps(
            [
                {
                    "plan": seed_plan("lookup_fact", "Find the landing date"),
                    "result": "20 July 1969",
                },
                {
                    "plan": seed_plan("final_answer", "Say 20 July 1969"),
                    "result": "On 20 July 1969.",
                },
            ]
        )
    )
    (root / "trajectories" / "space_1.json").write_text("[]")
    (root / "trajectories" / "space_2.json").write_text(
        json.dumps(
            [
                {"plan": seed_plan("search_bing", "Search"), "result": "..."},
            ]
        )
    )
    (root / "evaluations" / "space_0.json").write_text(
        json.dumps(
            {
                "steps": [
                    {"task_rating": 5, "tool_rating": 5, "result_rating": 4, "explanation": "ok"}
                ],
                "final_answer_rating": 5,
                "explanation": "good",
            }
        )
    )
    return root


def test_import_reads_the_seed_layout_and_reports_unknown_tools(
    seed_output, tmp_path, lookup_plugin
):
    db_path = tmp_path / "runs.sqlite"
    result = CliRunner().invoke(cli, ["sim", "import", str(seed_output), "--db", str(db_path)])
    assert result.exit_code == 1, result.output  # broken.txt: the rest is imported
    assert "imported 3 new requests, 2 trajectories (1 failed runs), 1 ratings" in result.output
    assert "left out 1 trajectories using tools not installed: search_bing (1)" in result.output
    assert "broken.txt: no JSON block" in result.output
    db = RunsDB(db_path)
    by_request = {t.request.id: t for t in db.trajectories("import:output")}
    assert set(by_request) == {"space_0", "space_1"}
    done = by_request["space_0"]
    assert done.status == "completed" and done.final_answer == "On 20 July 1969."
    assert done.request.topic == "Space" and done.steps[0].plan.missing_information_or_action
    assert by_request["space_1"].status == "error"
    rating = db.db.execute("SELECT judge, final_rating FROM ratings").fetchall()
    assert rating == [("import", 5)]
    again = CliRunner().invoke(cli, ["sim", "import", str(seed_output), "--db", str(db_path)])
    assert "imported 0 new requests, 0 trajectories" in again.output
    status = CliRunner().invoke(cli, ["sim", "status", "--db", str(db_path), "--json"])
    info = json.loads(status.output)
    assert info["requests"] == 3 and info["ratings"] == 1
    run = info["runs"][0]
    assert run["run"] == "import:output" and run["trajectories"] == {"completed": 1, "error": 1}


def test_wrong_types_in_an_import_are_one_line_each_and_a_fixed_file_brings_its_rating(
    seed_output, tmp_path, lookup_plugin
):
    (seed_output / "requests" / "broken.txt").unlink()
    batch = {"topic": 5, "requests": [{"request": "x"}]}
    (seed_output / "requests" / "badtopic.txt").write_text(json.dumps(batch))
    (seed_output / "requests" / "badlist.txt").write_text(json.dumps({"requests": 5}))
    evaluation = seed_output / "evaluations" / "space_0.json"
    good = evaluation.read_text()
    evaluation.write_text(json.dumps({"final_answer_rating": "five"}))
    db_path = tmp_path / "runs.sqlite"
    args = ["sim", "import", str(seed_output), "--db", str(db_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "skipped: badtopic.txt: topic 5 is not text" in result.output
    assert "skipped: badlist.txt: requests is not a list" in result.output
    assert (
        "skipped: space_0.json: final_answer_rating 'five' is not a whole number" in result.output
    )
    assert "2 trajectories (1 failed runs), 0 ratings" in result.output  # nothing else lost
    evaluation.write_text(good)  # fixed: importing again brings the rating it failed on
    again = CliRunner().invoke(cli, args)
    assert "0 trajectories (0 failed runs), 1 ratings" in again.output
    assert RunsDB(db_path).ratings("import:output:space_0")["import"]["final_rating"] == 5


def test_status_without_a_database_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["sim", "status", "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "no runs database at" in result.output


@pytest.mark.parametrize(
    "command",
    [["status"], ["export", "--run", "r", "--out", "out"], ["rate", "--run", "r"],
     ["package", "--run", "r", "--out", "out"], ["trajectories"], ["eval"]],
)  # fmt: skip
def test_reading_a_missing_database_is_an_error_and_creates_nothing(tmp_path, command):
    missing = tmp_path / "typo.sqlite"
    result = CliRunner().invoke(cli, ["sim", command[0], "--db", str(missing), *command[1:]])
    assert result.exit_code == 2 and f"no runs database at {missing}" in result.output
    assert not missing.exists()


def test_the_teacher_plan_writes_its_fields_first_and_packaging_drops_them():
    from gba_core.schema import Plan, plan_schema
    from gba_sim.package import completion_text

    schema = plan_schema(["final_answer"], plan_class=TeacherPlan)
    assert list(schema["properties"]) == [
        "user_request",
        "context_information_summary",
        "missing_information_or_action",
        "thoughts",
        "task",
        "selected_tool",
    ]
    fields = {
        "context_information_summary": "Nothing yet.",
        "thoughts": "Look it up.",
        "task": "Find the population of Lyon.",
        "selected_tool": "final_answer",
    }
    teacher = TeacherPlan(
        user_request="Lyon?", missing_information_or_action="population", **fields
    )
    assert teacher.to_plan() == Plan(**fields)
    stored = Step.model_validate_json(
        Step(index=0, plan=teacher, observation="x").model_dump_json()
    )
    assert stored.plan is not None and stored.plan.user_request == "Lyon?"
    assert json.loads(completion_text(stored.plan)) == fields  # in Plan's order, tool first
    assert list(json.loads(completion_text(stored.plan))) == list(Plan.model_fields)
