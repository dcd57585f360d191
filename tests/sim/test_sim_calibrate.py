"""gba sim calibrate: the breaks it makes, the agreement it computes, and the command."""

import json

import pytest
from click.testing import CliRunner

from gba_core import hookimpl
from gba_core.cli import cli
from gba_core.registry import load_toolset
from gba_core.schema import Rating
from gba_sim.calibrate import REFERENCE, cases, spearman
from gba_sim.starter import starter_trajectories


@pytest.fixture
def starter():
    tools = load_toolset().names
    trajectories = starter_trajectories(split="heldout", known_tools=set(tools))
    assert len(trajectories) >= 4
    return trajectories[:4], tools


def test_each_break_changes_one_thing(starter):
    trajectories, tools = starter
    made = cases(trajectories, tools, seed=3)
    by_id = {t.id: t for t in trajectories}
    kinds = {c.kind for c in made}
    assert kinds == set(REFERENCE)
    for case in made:
        original = by_id[case.trajectory.id.split(":wrong")[0].split(":repeated")[0]]
        broken = case.trajectory
        if case.kind == "wrong_answer":
            assert broken.final_answer != original.final_answer
            assert broken.final_answer in {t.final_answer for t in trajectories}
            assert broken.steps[-1].observation == broken.final_answer
        elif case.kind == "wrong_tool":
            changed = [
                (a.plan.selected_tool, b.plan.selected_tool)
                for a, b in zip(original.steps, broken.steps, strict=True)
                if a.plan.selected_tool != b.plan.selected_tool
            ]
            assert len(changed) == 1 and changed[0][1] in tools
        elif case.kind == "repeated_step":
            assert len(broken.steps) == len(original.steps) + 1
            assert [s.index for s in broken.steps] == list(range(len(broken.steps)))
            tasks = [s.plan.task for s in broken.steps]
            assert any(tasks[i] == tasks[i + 1] for i in range(len(tasks) - 1))
    assert [c.trajectory.id for c in made] == [
        c.trajectory.id for c in cases(trajectories, tools, 3)
    ]
    assert all(t.final_answer == by_id[t.id].final_answer for t in trajectories)  # untouched


def test_spearman_matches_hand_computed_values():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ties share their mean rank: ranks 1, 2.5, 2.5, 4 against 1..4
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / (4.5 * 5) ** 0.5)
    assert spearman([5, 5, 5], [1, 2, 3]) is None  # a constant judge has no ranking


class OracleJudge:
    """Rates each case with its reference score (it reads the break from the id)."""

    name = "oracle"

    def rate(self, trajectory):
        kind = trajectory.id.rsplit(":", 1)[-1]
        return Rating(final_answer_rating=REFERENCE.get(kind, REFERENCE["clean"]))


class OraclePlugin:
    @hookimpl
    def register_evaluators(self, register):
        register("oracle", lambda llm, **options: OracleJudge())


def _calibrate(tmp_path, *args):
    result = CliRunner().invoke(
        cli,
        ["sim", "calibrate", "--db", str(tmp_path / "runs.sqlite"), "--limit", "4", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result


def test_a_perfect_judge_agrees_fully(tmp_path, register_plugin, scripted_backend):
    register_plugin(OraclePlugin(), "oracle-plugin")
    result = _calibrate(tmp_path, "--judge", "oracle", "--judge-llm", "scripted:x", "--json")
    [summary] = json.loads(result.stdout)
    assert summary["spearman"] == pytest.approx(1.0)
    assert summary["accuracy"] == 1.0
    assert summary["confusion"]["bad_kept"] == 0 and summary["confusion"]["good_dropped"] == 0
    assert summary["by_kind"]["wrong_answer"]["below_threshold"] == 1.0


def test_a_judge_that_rates_everything_5_is_shown_untrustworthy(tmp_path, scripted_backend):
    def always_five(call):
        if call.schema.__name__ == "StepRating":
            return {"task_rating": 5, "tool_rating": 5, "result_rating": 5, "explanation": "ok"}
        return {"final_answer_rating": 5, "explanation": "ok"}

    scripted_backend.default = always_five
    result = _calibrate(tmp_path, "--judge-llm", "scripted:x", "--json")
    [summary] = json.loads(result.stdout)
    assert summary["spearman"] is None
    assert summary["confusion"]["bad_dropped"] == 0 and summary["confusion"]["bad_kept"] > 0
    assert summary["accuracy"] == pytest.approx(4 / summary["rated"])  # the 4 clean ones
    text = _calibrate(tmp_path, "--judge-llm", "scripted:x").stdout
    assert "Spearman with the reference: n/a" in text and "caught 0.00" in text


def test_rating_with_the_embedded_judge_warns_and_names_the_way_out(tmp_path, monkeypatch):
    """The default judge is the 270M, which calibration shows to be noise: `gba sim
    rate` says so when nothing chose the judge, and stays quiet when something did."""
    from gba_sim.db import RunsDB

    for name in ("GBA_JUDGE_LLM", "GBA_LLM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no gba.toml
    db_path = tmp_path / "runs.sqlite"
    RunsDB(db_path).close()
    rate = ["sim", "rate", "--db", str(db_path), "--run", "nothing-to-rate"]
    default = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert default.exit_code == 0, default.output
    assert "the judge is the embedded 270M" in default.stderr and "--judge-llm" in default.stderr
    monkeypatch.setenv("GBA_JUDGE_LLM", "openai:strong-model")
    chosen = CliRunner().invoke(cli, rate, catch_exceptions=False)
    assert chosen.exit_code == 0, chosen.output
    assert "embedded 270M" not in chosen.stderr
