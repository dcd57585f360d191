"""The worked custom domain, examples/gba_notes: its real tools on a real SQLite file, its
twins, and its way through the pipeline (gba tools → gba sim requests / trajectories /
rate → gba sim package) on the scripted backend."""

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gba_core import plugins
from gba_core.cli import cli
from gba_core.llm.base import schema_dict
from gba_core.registry import load_toolset
from gba_core.testing import ScriptedLLM, check_tool_pair
from gba_core.tools import ToolContext

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gba_notes"
NOTES_TOOLS = ("add_note", "search_notes", "summarise_notes")
REQUESTS = {
    "add_note": "Remember that the dentist moved my appointment to Friday at 10.",
    "search_notes": "What did I write down about the plumber?",
    "summarise_notes": "Sum up my notes on the garden project.",
}


@pytest.fixture
def notes(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("GBA_NOTES_DB", str(tmp_path / "notes.sqlite"))
    import gba_notes

    yield gba_notes
    sys.modules.pop("gba_notes", None)


def test_the_real_tools_keep_and_find_notes_in_sqlite(notes):
    assert notes.add_note("Plumber", "Mario fixes the sink on Tuesday", "home") == (
        "Saved note 1: Plumber"
    )
    notes.add_note("Garden", "Plant tomatoes in May; the shed needs paint", "garden")
    assert notes.search_notes("when does the plumber come?") == (
        "Note 1: Plumber: Mario fixes the sink on Tuesday"
    )
    hostile = '"; DROP TABLE notes --'
    assert notes.search_notes(hostile) == f"No note matches {hostile!r}."
    llm = ScriptedLLM([{"topic": "garden"}, "Note 2: tomatoes in May, paint the shed."])
    summary = notes.SummariseNotes().run("r", "Summarise my garden notes", [], ToolContext(llm=llm))
    assert summary == "Note 2: tomatoes in May, paint the shed."
    assert "Plant tomatoes in May" in llm.calls[1].prompt  # the summary saw the note
    assert "Mario" not in llm.calls[1].prompt  # and only the matching one


def test_every_tool_has_a_twin_that_honours_the_contract(notes, register_plugin):
    register_plugin(notes, "notes")
    tools = load_toolset()
    for name in NOTES_TOOLS:
        check_tool_pair(tools.real[name], tools.simulated[name], task=f"Use {name} now.")
        assert tools.origins[(name, "simulated")] == "notes"


def play(call):
    """Every role of the pipeline, deterministically: requests name their tool, the
    planner picks the tool its request needs and then final_answer, the judge rates 5."""
    if call.schema is None:
        return "NOTE-RESULT: done."  # twins and final answers
    properties = schema_dict(call.schema)["properties"]
    if "requests" in properties:
        tool = re.search(r"Tool: (\w+):", call.prompt).group(1)
        request = {"request": REQUESTS[tool], "explanation": f"needs {tool}"}
        return (
            {"topic": "notes", "requests": [request]}
            if "topic" in properties
            else {"requests": [request]}
        )
    if "selected_tool" in properties:
        tool = next(t for t, text in REQUESTS.items() if text in call.prompt)
        if "NOTE-RESULT" in call.prompt:
            tool = "final_answer"
        plan = {name: "-" for name in properties}
        return {**plan, "task": f"Use {tool} for the request.", "selected_tool": tool}
    return {name: 5 if name.endswith("rating") else "fine" for name in properties}


@pytest.fixture
def only_gba_sim(monkeypatch, fresh_plugins):
    """Of the installed plugins only gba-sim, so the notes tools stand alone beside
    final_answer (before any other fixture loads plugins)."""
    monkeypatch.setenv("GBA_PLUGINS", "sim")
    plugins.reset()


def test_the_domain_goes_through_simulation_into_the_dataset(
    only_gba_sim, notes, register_plugin, scripted_backend, tmp_path
):
    register_plugin(notes, "notes")
    scripted_backend.default = play
    db, out = str(tmp_path / "runs.sqlite"), tmp_path / "dataset"

    def gba(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.output

    listed = {row["name"]: row for row in json.loads(gba("tools", "--json"))}
    assert set(listed) == {"final_answer", *NOTES_TOOLS}
    assert all(listed[name]["simulated"] for name in NOTES_TOOLS)
    llm = ("--llm", "scripted:test")
    gba("sim", "requests", "--db", db, *llm, "--batches", 0, "--single-per-tool", 1)
    gba("sim", "trajectories", "--db", db, *llm, "--run", "notes")
    gba("sim", "rate", "--db", db, "--judge-llm", "scripted:test", "--run", "notes")
    gba("sim", "package", "--db", db, "--run", "notes", "--out", out)
    rows = [json.loads(line) for line in (out / "train.prompt_completion.jsonl").open()]
    chosen = [json.loads(row["completion"][0]["content"])["selected_tool"] for row in rows]
    assert sorted(chosen) == sorted([*NOTES_TOOLS, *["final_answer"] * 3])
    first = {row["request"]: c for row, c in zip(rows, chosen, strict=True) if row["step"] == 0}
    assert first == {text: tool for tool, text in REQUESTS.items()}
