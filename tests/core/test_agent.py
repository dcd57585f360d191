from datetime import date

import pytest

from gba_core.agent import Agent
from gba_core.errors import ConfigError, InvalidOutputError, LLMError, LLMUnavailableError
from gba_core.llm.scripted import ScriptedLLM
from gba_core.planners import ZeroShotPlanner
from gba_core.testing import plan_answer
from gba_core.tools import SimulatedTool, Tool


class Lookup(Tool):
    name = "lookup"
    description = "Look up a fact."

    def __init__(self):
        self.seen = []

    def run(self, request, task, scratchpad, ctx):
        self.seen.append((task, [e.result for e in scratchpad], ctx.rng.random()))
        return "The Eiffel Tower is 330 m tall."


class Broken(Tool):
    name = "broken"
    description = "Always fails."

    def run(self, request, task, scratchpad, ctx):
        raise ConnectionError("calendar server down")


class Answer(Tool):
    name = "final_answer"
    description = "Answer."

    def run(self, request, task, scratchpad, ctx):
        return ctx.llm.complete([{"role": "user", "content": task}]).content


def make_agent(responses, tools=None, **kwargs):
    llm = ScriptedLLM(responses)
    tools = tools or {"lookup": Lookup(), "broken": Broken(), "final_answer": Answer()}
    return Agent(ZeroShotPlanner(tools, llm), tools, **kwargs), llm, tools


def test_run_completes_with_final_answer_and_feeds_results_back():
    steps = []
    agent, llm, _ = make_agent(
        [
            plan_answer("lookup", "Find the height"),
            plan_answer("final_answer", "Say 330 m"),
            "It is 330 m tall.",
        ],
        on_step=steps.append,
    )
    trajectory = agent.run("How tall is the Eiffel Tower?")
    assert trajectory.status == "completed"
    assert trajectory.final_answer == "It is 330 m tall."
    assert [s.plan.selected_tool for s in trajectory.steps] == ["lookup", "final_answer"]
    assert steps == trajectory.steps
    # the second planner call saw the first result in its prompt
    assert "330 m tall" in llm.calls[1].prompt
    assert trajectory.steps[0].planner_usage.prompt_tokens > 0
    assert trajectory.finished_at is not None


def test_every_step_is_planned_with_the_date_the_run_started():
    agent, llm, _ = make_agent(
        [plan_answer("lookup", "Find the height"), plan_answer("final_answer"), "330 m."]
    )
    before = date.today()
    trajectory = agent.run("How tall is the Eiffel Tower?")
    assert before <= trajectory.today <= date.today()
    planner_prompts = [call.prompt for call in llm.calls[:2]]
    assert all(f"{trajectory.today.isoformat()}.\nRequest:" in p for p in planner_prompts)


def test_tool_exception_becomes_an_observation_and_the_run_goes_on():
    agent, _, _ = make_agent(
        [
            plan_answer("broken"),
            plan_answer("final_answer", "Say sorry"),
            "Sorry, the calendar is down.",
        ]
    )
    trajectory = agent.run("Add a meeting")
    first = trajectory.steps[0]
    assert first.tool_error
    assert "ConnectionError" in first.observation and "calendar server down" in first.observation
    assert trajectory.status == "completed"


def test_max_steps_without_final_answer():
    agent, _, _ = make_agent([plan_answer("lookup", f"Look {i}") for i in range(3)], max_steps=3)
    trajectory = agent.run("Loop forever")
    assert trajectory.status == "max_steps"
    assert len(trajectory.steps) == 3 and trajectory.final_answer is None
    assert trajectory.limit_answer is None


def test_an_answer_at_the_limit_is_kept_apart():
    agent, llm, _ = make_agent(
        [plan_answer("lookup", "Look 1"), plan_answer("lookup", "Look 2"), "About 330 m."],
        max_steps=2,
        answer_at_limit=True,
    )
    trajectory = agent.run("How tall?")
    assert trajectory.status == "max_steps" and trajectory.final_answer is None
    assert trajectory.limit_answer == "About 330 m."
    assert "step limit is reached" in llm.calls[-1].prompt


@pytest.mark.parametrize("written", ["", "the the the the the the the the"])
def test_an_unusable_answer_at_the_limit_falls_back_to_the_latest_result(written):
    agent, _, _ = make_agent(
        [plan_answer("lookup", "Look 1"), plan_answer("lookup", "Look 2"), written],
        max_steps=2,
        answer_at_limit=True,
    )
    trajectory = agent.run("How tall?")
    assert trajectory.limit_answer == trajectory.steps[-1].observation != ""
    assert "step limit" not in trajectory.limit_answer


def test_invalid_plan_is_recorded_and_the_planner_is_told():
    agent, llm, _ = make_agent(
        [InvalidOutputError("output cut", "{"), plan_answer("final_answer", "ok"), "ok"]
    )
    trajectory = agent.run("Anything")
    assert trajectory.steps[0].invalid_plan and trajectory.steps[0].plan is None
    assert "Invalid plan" in llm.calls[1].prompt
    assert trajectory.status == "completed"


def test_unexpected_error_ends_the_run_with_status_error():
    agent, _, _ = make_agent([RuntimeError("model crashed")])
    trajectory = agent.run("Anything")
    assert trajectory.status == "error" and "model crashed" in trajectory.error


@pytest.mark.parametrize(
    "error", [LLMUnavailableError("connection refused"), LLMError("HTTP 401: bad key")]
)
def test_backend_failures_propagate_instead_of_failing_the_trajectory(error):
    agent, _, _ = make_agent([error])
    with pytest.raises(type(error)):
        agent.run("Anything")
    agent, _, _ = make_agent([plan_answer("final_answer"), error])  # in a tool, too
    with pytest.raises(type(error)):
        agent.run("Anything")


def test_tool_arguments_that_do_not_validate_are_an_observation():
    agent, _, _ = make_agent(
        [
            plan_answer("final_answer", "x"),
            InvalidOutputError("does not match the schema"),
            plan_answer("final_answer", "y"),
            "ok",
        ]
    )
    trajectory = agent.run("Anything")
    assert trajectory.steps[0].tool_error
    assert "does not match the schema" in trajectory.steps[0].observation
    assert trajectory.status == "completed" and trajectory.final_answer == "ok"


def test_seed_makes_tool_randomness_replayable():
    results = []
    for _ in range(2):
        agent, _, tools = make_agent([plan_answer("lookup"), plan_answer("final_answer"), "done"])
        agent.run("x", seed=42)
        results.append(tools["lookup"].seen[0][2])
    assert results[0] == results[1]


def test_agent_needs_final_answer_and_positive_max_steps():
    with pytest.raises(ConfigError, match="final_answer"):
        make_agent([], tools={"lookup": Lookup()})
    with pytest.raises(ConfigError, match="max_steps"):
        make_agent([], max_steps=0)


def test_simulated_tools_use_the_tool_llm():
    twin = SimulatedTool("lookup", "Look up a fact.")
    tools = {"lookup": twin, "final_answer": Answer()}
    planner_llm = ScriptedLLM(
        [plan_answer("lookup", "Find the height"), plan_answer("final_answer")]
    )
    simulator = ScriptedLLM(["Simulated: 330 m", "330 m."])
    agent = Agent(ZeroShotPlanner(tools, planner_llm), tools, tool_llm=simulator, mode="simulated")
    trajectory = agent.run("How tall?")
    assert trajectory.steps[0].observation == "Simulated: 330 m"
    assert "Find the height" in simulator.calls[0].prompt
    assert trajectory.tool_mode == "simulated" and trajectory.final_answer == "330 m."


def test_an_identical_task_is_not_run_twice():
    agent, _llm, tools = make_agent(
        [
            plan_answer("lookup", "Find the height"),
            plan_answer("lookup", "find  the HEIGHT"),
            plan_answer("lookup", "Find the width"),
            plan_answer("final_answer"),
            "done",
        ]
    )
    trajectory = agent.run("How tall?")
    assert [task for task, _, _ in tools["lookup"].seen] == ["Find the height", "Find the width"]
    second = trajectory.steps[1]
    assert second.repeated and "step 1 already did this task" in second.observation
    assert "330 m tall" in second.observation
    assert trajectory.status == "completed"


def test_a_failed_task_may_be_tried_again():
    agent, _, _ = make_agent(
        [
            plan_answer("broken", "Add it"),
            plan_answer("broken", "Add it"),
            plan_answer("final_answer"),
            "sorry",
        ]
    )
    trajectory = agent.run("x")
    assert [s.tool_error for s in trajectory.steps[:2]] == [True, True]
    assert not trajectory.steps[1].repeated
