"""`gba sim requests` on the scripted backend."""

from click.testing import CliRunner

from gba_core import hookimpl
from gba_core.cli import cli
from gba_core.schema import Request
from gba_core.tools import SimulatedTool, Tool
from gba_sim.db import RunsDB
from gba_sim.requests import near_duplicate


class Weather(Tool):
    name = "get_weather"
    description = "Tell the weather forecast for a place and day."

    def run(self, request, task, scratchpad, ctx):
        return "sunny"


class Plugin:
    @hookimpl
    def register_tools(self, register):
        register(Weather())

    @hookimpl
    def register_simulated_tools(self, register):
        register(SimulatedTool("get_weather", Weather.description))


def reply(call):
    name = call.schema.__name__
    if name == "SingleStepRequests":
        tool = call.prompt.split("Tool: ")[-1].split(":")[0]
        return {
            "requests": [
                {"request": f"Use {tool} for Paris tomorrow, please.", "explanation": "one call"},
                {"request": "What will the weather be in Oslo on Friday?", "explanation": "dup"},
            ]
        }
    return {
        "topic": "A weekend in Rome",
        "requests": [
            {"request": "Is it going to rain in Rome on Saturday?", "explanation": "get_weather"},
            {"request": "Is it going to rain in Rome on Saturday??", "explanation": "same"},
            {
                "request": "Find the Colosseum's opening hours and check Sunday's weather in Rome.",
                "explanation": "two tools",
            },
        ],
    }


def test_requests_are_written_for_the_installed_tools_without_near_duplicates(
    tmp_path, register_plugin, scripted_backend
):
    register_plugin(Plugin(), "weather-plugin")
    scripted_backend.default = reply
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests([Request(id="old", text="what will the weather be in Oslo on friday")])
    db.close()
    args = [
        "sim",
        "requests",
        "--db",
        str(db_path),
        "--llm",
        "scripted:test",
        "--batches",
        "1",
        "--single-per-tool",
        "2",
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db = RunsDB(db_path)
    texts = {r.text: r for r in db.requests()}
    # One single-step request per tool (the other repeats a stored one), two from the batch
    # (one near-duplicate dropped).
    tools = [
        c.prompt.split("Tool: ")[-1].split(":")[0]
        for c in scripted_backend.calls
        if c.schema.__name__ == "SingleStepRequests"
    ]
    assert "get_weather" in tools and "final_answer" not in tools
    assert len(texts) == 1 + len(tools) + 2
    rome = texts["Is it going to rain in Rome on Saturday?"]
    assert rome.topic == "A weekend in Rome" and rome.split == "train" and rome.category
    explanation = db.db.execute("SELECT explanation FROM requests WHERE id = ?", (rome.id,))
    assert explanation.fetchone()[0] == "get_weather"
    batch_prompt = next(
        c.prompt for c in scripted_backend.calls if c.schema.__name__ == "RequestBatch"
    )
    assert "- get_weather: Tell the weather forecast" in batch_prompt
    calls = len(scripted_backend.calls)
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.output.startswith("0 new requests")
    assert len(scripted_backend.calls) == calls  # replayed from the cache


def test_near_duplicates_compare_word_sets():
    assert near_duplicate(frozenset("abcde"), frozenset("abcdef"))  # 5/6 of the words
    assert not near_duplicate(frozenset("abc"), frozenset("abde"))


def test_a_budget_stops_the_teacher_and_keeps_what_it_wrote(
    tmp_path, register_plugin, scripted_backend
):
    register_plugin(Plugin(), "weather-plugin")
    scripted_backend.default = reply
    db_path = tmp_path / "runs.sqlite"
    RunsDB(db_path).close()
    args = ["sim", "requests", "--db", str(db_path), "--llm", "scripted:test"]
    args += ["--batches", "3", "--single-per-tool", "2"]
    result = CliRunner().invoke(cli, [*args, "--max-calls", "1"])
    assert result.exit_code == 1, result.output
    assert len(scripted_backend.calls) == 1  # asked once, then stopped
    assert "budget reached (calls 1 of 1)" in result.output
    kept = len(RunsDB(db_path).requests())
    assert kept >= 1 and f"{kept} new requests" in result.output
    done = CliRunner().invoke(cli, args)  # without a budget it goes on, replaying the first
    assert done.exit_code == 0 and len(RunsDB(db_path).requests()) > kept
