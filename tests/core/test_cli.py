import json

import pytest
from click.testing import CliRunner

from gba_core import hookimpl, plugins
from gba_core.cli import cli
from gba_core.llm.scripted import ScriptedLLM
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


@pytest.fixture
def role_llms(register_plugin):
    """A `roles:` backend with one scripted LLM per name, to see which role used which."""
    llms = {}

    class Backend:
        @hookimpl
        def register_llms(self, register):
            def factory(name, **options):
                return llms.setdefault(name, ScriptedLLM(spec=f"roles:{name}"))

            register("roles", factory)

    register_plugin(Backend())
    return llms


class Lookup(Tool):
    name = "lookup"
    description = "Look something up."

    def run(self, request, task, scratchpad, ctx):
        return ctx.llm.complete([{"role": "user", "content": task}]).content


class LookupPlugin:
    @hookimpl
    def register_tools(self, register):
        register(Lookup())

    @hookimpl
    def register_simulated_tools(self, register):
        register(SimulatedTool("lookup", "Look something up."))


def test_role_options_pick_the_llm_of_each_role(role_llms, register_plugin, monkeypatch):
    monkeypatch.setenv("GBA_LLM", "nope:never-used")  # options beat the environment
    register_plugin(LookupPlugin())
    role_llms["planner"] = ScriptedLLM(
        [plan_answer("lookup", "Find it"), plan_answer("final_answer")], spec="roles:planner"
    )
    role_llms["tools"] = ScriptedLLM(["found: 42", "It is 42."], spec="roles:tools")
    result = invoke(
        "run", "hi", "--planner-llm", "roles:planner", "--tool-llm", "roles:tools", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["planner_llm"] == "roles:planner"
    assert data["steps"][0]["observation"] == "found: 42"
    assert len(role_llms["planner"].calls) == 2 and len(role_llms["tools"].calls) == 2


def test_simulated_run_uses_the_simulator_llm(role_llms, register_plugin):
    register_plugin(LookupPlugin())
    role_llms["planner"] = ScriptedLLM(
        [plan_answer("lookup", "Find it"), plan_answer("final_answer")], spec="roles:planner"
    )
    role_llms["sim"] = ScriptedLLM(["simulated: 42", "It is 42."], spec="roles:sim")
    result = invoke(
        "run",
        "hi",
        "--simulated",
        "--planner-llm",
        "roles:planner",
        "--simulator-llm",
        "roles:sim",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tool_mode"] == "simulated"
    assert data["steps"][0]["observation"] == "simulated: 42"
    assert "Find it" in role_llms["sim"].calls[0].prompt


def test_markup_in_model_text_is_printed_verbatim(scripted_backend, register_plugin):
    register_plugin(LookupPlugin())
    scripted_backend.add(
        plan_answer("lookup", "List [bold]/usr/bin[/]"),
        "see [/usr/bin] and [red]x",
        plan_answer("final_answer"),
        "done [/]",
    )
    result = invoke("run", "hi", "--llm", "scripted:test")
    assert result.exit_code == 0, result.output
    assert "List [bold]/usr/bin[/]" in result.output
    assert "see [/usr/bin] and [red]x" in result.output
    assert "Answer: done [/]" in result.output


def test_terminal_control_in_tool_output_is_not_printed_raw(scripted_backend, register_plugin):
    register_plugin(LookupPlugin())
    hostile = "\x1b]0;PWNED\x07\x1b[31mRED\x1b[0m \x07bell"
    scripted_backend.add(
        plan_answer("lookup", "Print it"), hostile, plan_answer("final_answer"), hostile
    )
    result = invoke("run", "hi", "--llm", "scripted:test")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "RED bell" in result.output and "Answer: RED bell" in result.output
    # --json keeps the text as it was: it is data
    scripted_backend.add(
        plan_answer("lookup", "Print it"), hostile, plan_answer("final_answer"), hostile
    )
    data = json.loads(invoke("run", "hi", "--llm", "scripted:test", "--json").stdout)
    assert data["steps"][0]["observation"] == hostile


def test_max_steps_is_reported(scripted_backend, register_plugin):
    register_plugin(LookupPlugin())
    scripted_backend.add(
        plan_answer("lookup", "Search"),
        "nothing",  # Lookup asks the tool LLM too
        plan_answer("lookup", "Search again"),
        "nothing",
        "Nothing was found.",
    )
    result = invoke("run", "hi", "--llm", "scripted:test", "--max-steps", "2")
    assert result.exit_code == 0, result.output
    assert "task  Search again" in result.output
    assert "No final answer within 2 steps" in result.output
    assert "From the results so far: Nothing was found." in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "hi", "--planner", "nope"], "unknown planner 'nope'"),
        (["run", "hi", "--llm", "foo:bar"], "unknown LLM backend prefix 'foo'"),
        (["run", "hi", "--llm", "no-colon"], "must look like PREFIX:NAME"),
        (["run", "hi", "--llm", "llama-cpp:/nowhere/model.gguf"], "GGUF model not found"),
        (["run", "   "], "the request is empty"),
        (["run", "x \udcff\udcfe"], "the request is not valid UTF-8"),
        (["run", "hi", "--max-steps", "0"], "--max-steps must be at least 1, got 0"),
        (
            ["run", "hi", "--llm", "openai:some-model?base_url=http://127.0.0.1:9/v1"],
            "cannot reach the OpenAI-compatible endpoint",
        ),
        (["run", "hi", "--llm", "llama-cpp:gemma-3-270m?n_ctx=big"], "bad option value"),
        (["run", "hi", "--llm", "llama-cpp:gemma-3-270m?colour=red"], "bad options"),
        (["run", "hi", "--simulated", "--tool-llm", "scripted:x"], "use --simulator-llm"),
        (
            ["run", "hi", "--llm", "scripted:x", "--cache", "/proc/no/such/dir/c.sqlite"],
            "cannot use /proc/no/such/dir/c.sqlite as an LLM call cache",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, scripted_backend):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.usefixtures("fresh_plugins")
def test_run_without_final_answer_tool_is_one_line(monkeypatch):
    monkeypatch.setenv("GBA_DISABLE_PLUGINS", "core.final_answer")
    plugins.register_plugin(LookupPlugin(), "lookup")  # fresh_plugins forgets it after
    result = invoke("run", "hi", "--llm", "openai:m?base_url=http://127.0.0.1:9/v1")
    assert result.exit_code == 2, result.output
    assert "no 'final_answer' tool" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def without_builtin_final_answer(monkeypatch, fresh_plugins):
    monkeypatch.setenv("GBA_DISABLE_PLUGINS", "core.final_answer")
    plugins.reset()


def test_a_plugin_can_replace_the_built_in_final_answer(
    without_builtin_final_answer, scripted_backend
):
    """The agent needs a final_answer tool, not the built-in one: with core.final_answer
    disabled, a plugin's own final_answer ends the run."""

    class Shout(Tool):
        name = "final_answer"
        description = "Give the final answer, loudly."

        def run(self, request, task, scratchpad, ctx):
            return task.upper()

    class ShoutPlugin:
        @hookimpl
        def register_tools(self, register):
            register(Shout())

        @hookimpl
        def register_simulated_tools(self, register):
            register(SimulatedTool("final_answer", "Give the final answer, loudly."))

    plugins.register_plugin(ShoutPlugin(), "shout")  # fresh_plugins forgets it after
    scripted_backend.add(plan_answer("final_answer", "It is 42."))
    result = invoke("run", "hi", "--llm", "scripted:test", "--planner", "zero-shot", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["final_answer"] == "IT IS 42."


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
