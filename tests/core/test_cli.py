import json

import pytest
from click.testing import CliRunner

from gba_core import hookimpl
from gba_core.cli import cli
from gba_core.testing import plan_answer
from gba_core.tools import SimulatedTool, Tool


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_run_prints_steps_and_answer(scripted_backend):
    scripted_backend.add(plan_answer("final_answer", "Say 391"), "17 × 23 = 391")
    result = invoke("run", "What is 17 times 23?", "--llm", "scripted:test")
    assert result.exit_code == 0, result.output
    assert "final_answer" in result.output and "Say 391" in result.output
    assert "Answer: 17 × 23 = 391" in result.output


def test_run_json_prints_the_trajectory(scripted_backend):
    scripted_backend.add(plan_answer("final_answer"), "391")
    result = CliRunner().invoke(cli, ["run", "17*23?", "--llm", "scripted:test", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["final_answer"] == "391"
    assert data["planner"] == "zero-shot" and data["planner_llm"] == "scripted:test"


def test_role_options_pick_the_llm(scripted_backend, monkeypatch):
    monkeypatch.setenv("GBA_LLM", "nope:never-used")
    scripted_backend.add(plan_answer("final_answer"), "ok")
    result = invoke(
        "run", "hi", "--planner-llm", "scripted:a", "--tool-llm", "scripted:a", "--json"
    )
    assert result.exit_code == 0, result.output


def test_max_steps_is_reported(scripted_backend, register_plugin):
    class Lookup(Tool):
        name = "lookup"
        description = "Look something up."

        def run(self, request, task, scratchpad, ctx):
            return "nothing found"

    class Plugin:
        @hookimpl
        def register_tools(self, register):
            register(Lookup())

    register_plugin(Plugin())
    scripted_backend.default = plan_answer("lookup", "Search again")
    result = invoke("run", "hi", "--llm", "scripted:test", "--max-steps", "2")
    assert result.exit_code == 0, result.output
    assert result.output.count("Search again") == 2
    assert "No final answer within 2 steps" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "hi", "--planner", "nope"], "unknown planner 'nope'"),
        (["run", "hi", "--llm", "foo:bar"], "unknown LLM backend prefix 'foo'"),
        (["run", "hi", "--llm", "no-colon"], "must look like PREFIX:NAME"),
        (["run", "hi", "--llm", "llama-cpp:/nowhere/model.gguf"], "GGUF model not found"),
        (["run", "   "], "the request is empty"),
        (["run", "hi", "--max-steps", "0"], "0 is not in the range x>=1"),
        (
            ["run", "hi", "--llm", "openai:some-model?base_url=http://127.0.0.1:9/v1"],
            "cannot reach the OpenAI-compatible endpoint",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, scripted_backend):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_tools_table_flags_missing_twins(register_plugin):
    class Lonely(Tool):
        name = "lonely_tool"
        description = "Has no twin."

    class Plugin:
        @hookimpl
        def register_tools(self, register):
            register(Lonely())

        @hookimpl
        def register_simulated_tools(self, register):
            register(SimulatedTool("ghost_tool", "Only simulated."))

    register_plugin(Plugin(), "lonely-plugin")
    result = invoke("tools")
    assert result.exit_code == 0, result.output
    assert "MISSING" in result.output and "2 tool(s) without a twin" in result.output
    rows = {r["name"]: r for r in json.loads(invoke("tools", "--json").output)}
    assert rows["lonely_tool"]["missing"] == "simulated"
    assert rows["ghost_tool"]["missing"] == "real"
    assert rows["final_answer"]["missing"] is None
    assert rows["lonely_tool"]["plugin"] == "lonely-plugin"


def test_llms_lists_backends_and_role_sources(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gba.toml").write_text('[llm]\njudge = "openai:judge-model"\n')
    monkeypatch.setenv("GBA_PLANNER_LLM", "openai:planner-model")
    data = json.loads(invoke("llms", "--json").output)
    assert {"llama-cpp", "openai"} <= set(data["backends"])
    assert data["roles"]["planner"] == {"llm": "openai:planner-model", "from": "GBA_PLANNER_LLM"}
    assert data["roles"]["judge"]["llm"] == "openai:judge-model"
    assert data["roles"]["tool"] == {"llm": "llama-cpp:gemma-3-270m", "from": "default"}


def test_help_explains_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "tools", "plugins", "llms"):
        assert command in result.output
    assert "--planner-llm" in invoke("run", "--help").output
