import pytest
from sim_helpers import reply

from gba_core import hookimpl
from gba_core.schema import Request
from gba_core.tools import SimulatedTool, Tool
from gba_sim.db import RunsDB


class LookupFact(Tool):
    name = "lookup_fact"
    description = "Look up a fact."

    def run(self, request, task, scratchpad, ctx):
        return "a fact"


class LookupPlugin:
    @hookimpl
    def register_tools(self, register):
        register(LookupFact())

    @hookimpl
    def register_simulated_tools(self, register):
        register(SimulatedTool(LookupFact.name, LookupFact.description))


@pytest.fixture
def lookup_plugin(register_plugin):
    """A temporary plugin with one tool, lookup_fact, and its twin."""
    register_plugin(LookupPlugin(), "lookup-plugin")


def teacher_plan(tool: str, task: str) -> dict[str, str]:
    fields = ("user_request", "context_information_summary", "missing_information_or_action")
    return {**dict.fromkeys(fields, "x"), "thoughts": "t", "task": task, "selected_tool": tool}


def play_lookup_roles(call):
    """Every role on the scripted backend: the teacher looks the fact up once, then
    answers; the twin finds it; the final answer and the judge (5 everywhere) agree."""
    if call.schema is not None and call.schema.__name__ == "StepRating":
        return {"task_rating": 5, "tool_rating": 5, "result_rating": 5, "explanation": "ok"}
    if call.schema is not None and call.schema.__name__ == "FinalRating":
        return {"final_answer_rating": 5, "explanation": "ok"}
    if call.schema is not None:
        found = "FACT" in call.prompt
        return (
            teacher_plan("final_answer", "Answer") if found else teacher_plan("lookup_fact", "Look")
        )
    return "FACT: 42" if "simulate the tool lookup_fact" in call.prompt else "42."


@pytest.fixture
def lookup_roles(lookup_plugin, scripted_backend):
    """The lookup plugin with every role played on the scripted backend
    (``play_lookup_roles``); a test may wrap ``default`` to make some calls fail."""
    scripted_backend.default = play_lookup_roles
    return scripted_backend


@pytest.fixture
def sim_db(tmp_path, lookup_plugin, scripted_backend):
    """A runs database of three questions, every role played by ``reply``."""
    scripted_backend.default = reply
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests([Request(id=f"q{i}", text=f"Question {i}?") for i in range(3)])
    db.close()
    return db_path
