"""The starter set shipped in gba-sim: its content, loading it, packaging its fixed split."""

import json
from datetime import date

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.registry import load_toolset
from gba_sim.db import RunsDB
from gba_sim.starter import load_starter, starter_path
from gba_sim.teacher import TeacherPlan

OFFICE_AND_SEARCH = {
    "search_wikipedia",
    "search_internet",
    "ask_user",
    "calculate_number",
    "create_event",
    "send_email",
    "use_bash",
}


def rows():
    return [json.loads(line) for line in starter_path().read_text().splitlines() if line]


def test_the_starter_set_covers_every_tool_in_both_splits_and_ends_in_final_answers():
    data = rows()
    assert len(data) >= 60
    assert len({r["id"] for r in data}) == len({r["request"].lower() for r in data}) == len(data)
    used = {"train": set(), "heldout": set()}
    no_tool = {"train": 0, "heldout": 0}
    for row in data:
        tools = [TeacherPlan(**step["plan"]).selected_tool for step in row["steps"]]
        assert tools[-1] == "final_answer" and "final_answer" not in tools[:-1], row["id"]
        assert all(step["result"].strip() for step in row["steps"]), row["id"]
        used[row["split"]].update(tools)
        assert date.fromisoformat(row["today"]).year in (2026, 2027), row["id"]
        no_tool[row["split"]] += len(tools) == 1
    assert used["train"] == used["heldout"] == OFFICE_AND_SEARCH | {"final_answer"}
    # Requests that need no tool are answered at once; the training data shows some.
    assert no_tool["train"] >= 5
    assert set(load_toolset().names) >= OFFICE_AND_SEARCH


def test_gba_sim_starter_loads_once_and_packages_its_fixed_split(tmp_path):
    db_path, out = tmp_path / "runs.sqlite", tmp_path / "dataset"
    runner = CliRunner()
    first = runner.invoke(cli, ["sim", "starter", "--db", str(db_path)])
    assert first.exit_code == 0, first.output
    heldout = sum(r["split"] == "heldout" for r in rows())
    assert f"{heldout} heldout, {len(rows()) - heldout} train" in first.output
    again = runner.invoke(cli, ["sim", "starter", "--db", str(db_path)])
    assert "0 new trajectories, 0 new requests" in again.output
    assert len(RunsDB(db_path).done_request_ids("starter")) == len(rows())

    args = ["sim", "package", "--db", str(db_path), "--run", "starter", "--judge", "reference"]
    both = runner.invoke(
        cli, [*args, "--out", str(out), "--val-size", "3", "--validation-split", "heldout"]
    )
    assert both.exit_code != 0 and "exclude each other" in both.output
    result = runner.invoke(cli, [*args, "--out", str(out), "--validation-split", "heldout"])
    assert result.exit_code == 0, result.output
    split_of = {f"starter:{r['id']}": r["split"] for r in rows()}
    for split, wanted in (("train", "train"), ("validation", "heldout")):
        lines = (out / f"{split}.prompt_completion.jsonl").read_text().splitlines()
        assert {split_of[json.loads(line)["trajectory_id"]] for line in lines} == {wanted}
    validation = (out / "validation.prompt_completion.jsonl").read_text().splitlines()
    steps = sum(len(r["steps"]) for r in rows() if r["split"] == "heldout")
    assert len(validation) == steps  # one example per held-out step
    # Each prompt carries the day its request was written for ("this year", "next week").
    today = {f"starter:{r['id']}": r["today"] for r in rows()}
    for line in validation:
        example = json.loads(line)
        assert example["today"] == today[example["trajectory_id"]]
        assert f"{example['today']}.\nRequest: " in example["prompt"][-1]["content"]

    # --brief: the same examples, each plan only its tool and task, as the teacher wrote them.
    brief_out = tmp_path / "brief"
    brief = runner.invoke(
        cli, [*args, "--out", str(brief_out), "--validation-split", "heldout", "--brief"]
    )
    assert brief.exit_code == 0, brief.output
    full_rows = [json.loads(line) for line in validation]
    brief_rows = [
        json.loads(line)
        for line in (brief_out / "validation.prompt_completion.jsonl").read_text().splitlines()
    ]
    assert [r["prompt"] for r in brief_rows] == [r["prompt"] for r in full_rows]
    for full_row, brief_row in zip(full_rows, brief_rows, strict=True):
        full_plan = json.loads(full_row["completion"][0]["content"])
        brief_plan = json.loads(brief_row["completion"][0]["content"])
        assert list(brief_plan) == ["selected_tool", "task"]
        assert brief_plan == {k: full_plan[k] for k in ("selected_tool", "task")}


def test_starter_trajectories_with_tools_not_installed_are_left_out(tmp_path):
    data = rows()[:2]
    data[1]["steps"][0]["plan"]["selected_tool"] = "no_such_tool"
    path = tmp_path / "starter.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in data))
    db = RunsDB(tmp_path / "runs.sqlite")
    report = load_starter(db, run_id="s", known_tools=set(load_toolset().names), path=path)
    assert report.trajectories == 1 and report.skipped == 1
    assert dict(report.unknown_tools) == {"no_such_tool": 1}


def test_each_starter_trajectory_is_stored_with_its_rating_and_a_lost_one_is_filled(tmp_path):
    path = tmp_path / "starter.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows()[:3]))
    db = RunsDB(tmp_path / "runs.sqlite")
    tools = set(load_toolset().names)
    load_starter(db, run_id="s", known_tools=tools, path=path)
    ids = [t.id for t in db.trajectories("s")]
    assert len(ids) == 3 and all("reference" in db.ratings(i) for i in ids)
    # A database where a kill left one trajectory without its rating: a rerun fills it.
    db.db.execute("DELETE FROM ratings WHERE trajectory_id = ?", (ids[0],))
    db.db.commit()
    report = load_starter(db, run_id="s", known_tools=tools, path=path)
    assert report.trajectories == 0 and "reference" in db.ratings(ids[0])
