"""ask_user on a terminal (CliRunner input) and its non-interactive policies."""

import json

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.llm.scripted import ScriptedLLM
from gba_core.testing import plan_answer
from gba_core.tools import ToolContext
from gba_tools_office.ask import UNAVAILABLE, AskUser


def test_the_question_is_asked_on_the_terminal(scripted_backend):
    scripted_backend.add(
        plan_answer("ask_user", "Which day suits you?"), plan_answer("final_answer"), "ok"
    )
    result = CliRunner().invoke(
        cli,
        ["run", "Plan lunch", "--llm", "scripted:t", "--interactive", "--json"],
        input="Friday\n",
    )
    assert result.exit_code == 0, result.output
    assert "The agent asks: Which day suits you?" in result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert steps[0]["observation"] == "The user answered: Friday"


def test_non_interactive_runs_report_the_user_unavailable():
    ctx = ToolContext(llm=ScriptedLLM(), interactive=False)
    assert AskUser().run("r", "Which day?", [], ctx) == UNAVAILABLE


def test_non_interactive_answers_from_a_file(tmp_path, monkeypatch):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"which day": "Friday", "*": "No preference."}))
    monkeypatch.setenv("GBA_ASK_USER_ANSWERS", str(answers))
    ctx = ToolContext(llm=ScriptedLLM(), interactive=False)
    assert AskUser().run("r", "Which day suits you?", [], ctx) == "The user answered: Friday"
    assert AskUser().run("r", "Any allergies?", [], ctx) == "The user answered: No preference."
