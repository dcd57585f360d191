"""The real-environment benchmark's requests are well formed and appear in no training
data, not even as a near-paraphrase; its scoring charges each failure to one stage."""

import json
import re
import sys
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import real_env  # noqa: E402

STARTER = ROOT / "plugins" / "gba_sim" / "gba_sim" / "starter" / "starter.jsonl"
STOP = {"a", "an", "the", "of", "in", "on", "to", "for", "and", "or", "is", "was", "what"}
STOP |= {"who", "how", "many", "much", "did", "do", "does", "my", "me"}


def words(text: str) -> set[str]:
    """Content words, cut to six letters so "directed" and "director" count as one."""
    return {w[:6] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP}


def near(a: str, b: str) -> bool:
    """Near-paraphrases: most characters in common, or most content words."""
    ratio = SequenceMatcher(None, a.lower(), b.lower()).ratio()
    wa, wb = words(a), words(b)
    jaccard = len(wa & wb) / max(len(wa | wb), 1)
    return ratio >= 0.8 or jaccard >= 0.6


def training_requests() -> list[str]:
    rows = [json.loads(line) for line in STARTER.read_text().splitlines() if line.strip()]
    return [row["request"] for row in rows]


BENCH = real_env.load_requests()


def test_the_fuzzy_match_catches_paraphrases():
    assert near("How tall is the Eiffel Tower?", "How tall is the Eiffel tower in Paris?")
    assert near("Who directed Jaws?", "Who was the director of Jaws")
    assert not near("Who designed the Statue of Liberty?", "How tall is the Eiffel Tower?")


def test_no_benchmark_request_is_in_the_training_data():
    training = training_requests()
    clashes = [(b["id"], t) for b in BENCH for t in training if near(b["request"], t)]
    assert not clashes, clashes


def role_example_files() -> list[Path]:
    """Every tool role's examples in the repository (built copies under build/ aside)."""
    return sorted(ROOT.glob("gba_core/**/role_examples/*.jsonl")) + sorted(
        ROOT.glob("plugins/*/*/role_examples/*.jsonl")
    )


def test_no_benchmark_request_is_in_any_role_example():
    files = role_example_files()
    assert {f.stem for f in files} >= {"calculate_number", "use_bash", "final_answer"}
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
    clashes = [(r["id"], b["id"]) for r in rows for b in BENCH if near(b["request"], r["request"])]
    assert not clashes, clashes


def test_the_set_is_large_and_mixed():
    assert len(BENCH) >= 40
    assert len({row["id"] for row in BENCH}) == len(BENCH)
    kinds = {row["kind"] for row in BENCH}
    wanted = {"fact", "fact_math", "fact_date", "calc", "calendar", "email", "multi", "ask"}
    assert wanted | {"bash"} <= kinds
    for row in BENCH:
        for pattern in [*row["answer"], *row.get("evidence", [])]:
            re.compile(real_env.expand(pattern, date(2027, 3, 15)))
        assert row["tools"] and (row["answer"] or "event" in row or "email" in row), row["id"]


def test_placeholders_follow_the_date():
    today = date(2027, 3, 15)
    assert real_env.expand("{today+1} {year} {year-1969}", today) == "2027-03-16 2027 58"
    assert real_env.expand("{weekday:+1}", today) == "Tuesday"
    assert real_env.expand(r"\d{4}", today) == r"\d{4}"


def step(tool, observation, error=False):
    plan = SimpleNamespace(selected_tool=tool, task=f"do {tool}")
    return SimpleNamespace(
        plan=plan,
        observation=observation,
        tool_error=error,
        planner_usage=SimpleNamespace(seconds=0.5),
    )


def trajectory(steps, answer, status="completed"):
    return SimpleNamespace(steps=steps, final_answer=answer, status=status)


ROW = {
    "id": "t",
    "kind": "fact",
    "request": "Who designed it?",
    "tools": ["search_wikipedia"],
    "answer": ["Bartholdi"],
}


@pytest.mark.parametrize(
    ("steps", "answer", "stage"),
    [
        ([step("final_answer", "Eiffel")], "Eiffel", ("choice", "search_wikipedia")),
        (
            [step("search_wikipedia", "Eiffel"), step("final_answer", "x")],
            "x",
            ("tool", "search_wikipedia"),
        ),
        (
            [step("search_wikipedia", "Bartholdi"), step("final_answer", "Eiffel")],
            "Eiffel",
            ("answer", "final_answer"),
        ),
        (
            [step("search_wikipedia", "Bartholdi"), step("final_answer", "Bartholdi")],
            "Bartholdi",
            (None, None),
        ),
    ],
)
def test_each_failure_is_charged_to_one_stage(tmp_path, steps, answer, stage):
    outcome = real_env.score(ROW, trajectory(steps, answer), tmp_path, date(2027, 3, 15))
    assert (outcome.stage, outcome.tool) == stage
    assert outcome.passed == (stage == (None, None))


def test_side_effects_are_checked_in_the_calendar_and_outbox(tmp_path):
    import datetime as dt

    from gba_tools_office.calendar import _vevent, add_to_ics

    row = {
        **ROW,
        "tools": ["create_event"],
        "answer": [],
        "event": {"date": "{today+1}", "time": "10:00", "title": "dentist"},
    }
    run = trajectory([step("create_event", "ok"), step("final_answer", "done")], "done")
    today = date(2027, 3, 15)
    assert real_env.score(row, run, tmp_path, today).stage == "tool"
    start = dt.datetime(2027, 3, 16, 10, 0)
    add_to_ics(
        tmp_path / "calendar.ics", _vevent("Dentist", start, start + dt.timedelta(hours=1), "", "")
    )
    assert real_env.score(row, run, tmp_path, today).passed
    assert not real_env.score(row, run, tmp_path, date(2027, 3, 16)).passed  # the wrong day
