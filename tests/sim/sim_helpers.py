"""What the `gba sim` tests on the scripted backend share: the roles played by ``reply``
(the ``sim_db`` fixture in conftest.py uses it), and `gba sim trajectories` run on a
database."""

from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import LLMUnavailableError
from gba_sim.db import RunsDB


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
