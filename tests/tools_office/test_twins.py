"""The five simulated twins: contract, prompts, seeded failure injection."""

import random

import pytest

from gba_core.llm.scripted import ScriptedLLM
from gba_core.registry import load_toolset
from gba_core.testing import check_tool_pair
from gba_core.tools import SimulatedFunctionTool, ToolContext, ToolOptions

OFFICE = ["ask_user", "calculate_number", "create_event", "send_email", "use_bash"]


def test_the_plugin_registers_five_pairs():
    toolset = load_toolset()
    for name in OFFICE:
        assert toolset.origins[(name, "real")] == "office"
        assert toolset.origins[(name, "simulated")] == "office"
    assert not set(OFFICE) & set(toolset.missing_twins())


@pytest.mark.parametrize("name", OFFICE)
def test_each_pair_conforms(name):
    toolset = load_toolset()
    check_tool_pair(toolset.real[name], toolset.simulated[name])


def test_derived_twins_play_the_function_from_its_signature():
    twin = load_toolset().simulated["create_event"]
    assert isinstance(twin, SimulatedFunctionTool)
    llm = ScriptedLLM(["Event 'Lunch' created for 2026-02-08 12:30."])
    out = twin.run("Lunch with Ana", "Add lunch on 8 Feb at 12:30", [], ToolContext(llm=llm))
    assert out == "Event 'Lunch' created for 2026-02-08 12:30."
    prompt = llm.calls[0].prompt
    assert "duration_minutes" in prompt and "Create a calendar event." in prompt
    assert "Add lunch on 8 Feb at 12:30" in prompt


def run_twin(name, seed, rate, n=20):
    twin = load_toolset().simulated[name]
    llm = ScriptedLLM(default="answer")
    options = ToolOptions(failure_rates={name: rate})
    ctx = ToolContext(llm=llm, rng=random.Random(seed), options=options)
    for _ in range(n):
        twin.run("r", "t", [], ctx)
    return ["This time" in call.prompt for call in llm.calls]


@pytest.mark.parametrize("name", OFFICE)
def test_failure_injection_is_seeded_and_configurable(name):
    first, again = run_twin(name, 7, 0.5), run_twin(name, 7, 0.5)
    assert first == again  # a trajectory replays exactly
    assert 0 < sum(first) < len(first)
    assert run_twin(name, 8, 0.5) != first
    assert sum(run_twin(name, 7, 0.0)) == 0 and sum(run_twin(name, 7, 1.0)) == 20


def test_simulated_send_email_and_ask_user_prompts_say_what_to_play():
    toolset = load_toolset()
    llm = ScriptedLLM(default="ok")
    toolset.simulated["ask_user"].run("Plan a trip", "Where to?", [], ToolContext(llm=llm))
    assert "Invent a plausible, specific answer" in llm.calls[0].prompt
    toolset.simulated["send_email"].run("Invite Bo", "Email bo@x.org", [], ToolContext(llm=llm))
    assert "recipient" in llm.calls[1].prompt and "Send an email" in llm.calls[1].prompt
