import json

import pytest

from gba_core.errors import InvalidOutputError, PluginError
from gba_core.llm.scripted import ScriptedLLM
from gba_core.schema import ScratchpadEntry
from gba_core.testing import check_tool_pair
from gba_core.tools import (
    ARGUMENT_MAX_CHARS,
    FunctionTool,
    SimulatedTool,
    Tool,
    ToolContext,
    ToolSet,
    parse_docstring,
)


def book_table(restaurant: str, people: int, time: str = "19:00") -> str:
    """Book a table at a restaurant.

    Args:
        restaurant: Name of the restaurant.
        people (int): How many guests,
            the host included.
        time: Time of the booking, HH:MM.

    Returns:
        A confirmation.
    """
    return f"Booked {restaurant} for {people} at {time}"


def test_argument_model_comes_from_signature_and_docstring():
    tool = FunctionTool(book_table)
    assert tool.name == "book_table"
    assert tool.description == "Book a table at a restaurant."
    schema = tool.args_model.model_json_schema()
    assert schema["required"] == ["restaurant", "people"]
    assert schema["properties"]["people"]["type"] == "integer"
    assert schema["properties"]["people"]["description"] == "How many guests, the host included."
    assert schema["properties"]["time"]["default"] == "19:00"


def test_plain_string_arguments_are_bounded():
    schema = FunctionTool(book_table).args_model.model_json_schema()
    assert schema["properties"]["restaurant"]["maxLength"] == ARGUMENT_MAX_CHARS
    assert "maxLength" not in schema["properties"]["people"]


def test_sphinx_docstrings_are_understood():
    summary, args = parse_docstring("""Send a note.

    :param str to: Recipient.
    :param body: Text of the note.
    """)
    assert summary == "Send a note."
    assert args == {"to": "Recipient.", "body": "Text of the note."}


def test_function_tool_calls_the_function_with_llm_filled_arguments():
    tool = FunctionTool(book_table)
    llm = ScriptedLLM([{"restaurant": "Chez Anna", "people": 4}])
    scratchpad = [ScratchpadEntry(task="Ask how many", tool="ask_user", result="4 people")]
    out = tool.run(
        "Dinner on Friday", "Book Chez Anna for the group", scratchpad, ToolContext(llm=llm)
    )
    assert out == "Booked Chez Anna for 4 at 19:00"
    call = llm.calls[0]
    assert call.schema is tool.args_model
    assert "Book Chez Anna for the group" in call.prompt and "4 people" in call.prompt


def test_one_word_arguments_keep_the_spelling_of_the_task():
    def email(recipient: str, body: str) -> str:
        """Send an email.

        Args:
            recipient: The address.
            body: The text.
        """
        return f"{recipient}: {body}"

    tool = FunctionTool(email)
    llm = ScriptedLLM([{"recipient": "Reception@Example.com", "body": "Cancel My membership"}])
    task = "Email reception@example.com to cancel my membership."
    out = tool.run("cancel my gym membership", task, [], ToolContext(llm=llm))
    # the address as written; text with spaces as the model wrote it
    assert out == "reception@example.com: Cancel My membership"
    llm = ScriptedLLM([{"recipient": "Kim@example.com", "body": "x"}])
    out = tool.run("Mail Kim", "Email the address the user gave.", [], ToolContext(llm=llm))
    assert out == "Kim@example.com: x"  # nowhere in the task or request: unchanged
    llm = ScriptedLLM([{"recipient": "Lotte.Meyer@example.com", "body": "x"}])
    answered = [
        ScratchpadEntry(task="Her address?", tool="ask_user", result="lotte.meyer@example.com")
    ]
    out = tool.run("Mail my sister", "Email my sister.", answered, ToolContext(llm=llm))
    assert out == "lotte.meyer@example.com: x"  # as the user's answer spells it


def test_function_tool_rejects_arguments_that_do_not_validate():
    tool = FunctionTool(book_table)
    llm = ScriptedLLM([{"restaurant": "Chez Anna", "people": "many"}])
    with pytest.raises(InvalidOutputError):
        tool.run("r", "t", [], ToolContext(llm=llm))


def test_function_tool_passes_the_context_and_serialises_results():
    seen = {}

    def roll(sides: int, ctx: ToolContext) -> dict:
        """Roll a die."""
        seen["ctx"] = ctx
        return {"value": ctx.rng.randint(1, sides)}

    tool = FunctionTool(roll)
    assert list(tool.args_model.model_fields) == ["sides"]
    ctx = ToolContext(llm=ScriptedLLM([{"sides": 6}]))
    assert 1 <= json.loads(tool.run("r", "t", [], ctx))["value"] <= 6
    assert seen["ctx"] is ctx


def test_function_tool_needs_a_description():
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="docstring"):
        FunctionTool(undocumented)


class Weather(Tool):
    name = "get_weather"
    description = "Current weather for a city."

    def run(self, request, task, scratchpad, ctx):
        return "Sunny"


def test_toolset_pairs_and_flags_missing_twins():
    twin = SimulatedTool("get_weather", "Current weather for a city.")
    lonely = SimulatedTool("only_simulated", "Exists only as a twin.")
    toolset = ToolSet(
        real={"get_weather": Weather(), "no_twin": Weather()},
        simulated={"get_weather": twin, "only_simulated": lonely},
    )
    assert toolset.missing_twins() == {"no_twin": "simulated", "only_simulated": "real"}
    assert set(toolset.for_mode("simulated")) == {"get_weather", "only_simulated"}
    with pytest.raises(PluginError, match="no_twin"):
        toolset.for_mode("real", allow_unpaired=False)


def test_conformance_check_accepts_a_good_pair_and_rejects_a_bad_one():
    check_tool_pair(Weather(), SimulatedTool("get_weather", "Current weather for a city."))
    with pytest.raises(AssertionError, match="description"):
        check_tool_pair(Weather(), SimulatedTool("get_weather", "Something else."))
    with pytest.raises(AssertionError, match="names differ"):
        check_tool_pair(Weather(), SimulatedTool("weather", "Current weather for a city."))


def test_tools_read_the_users_date_to_resolve_tomorrow():
    from datetime import date

    from gba_core.agent import Agent
    from gba_core.default_plugins.final_answer import FinalAnswer
    from gba_core.llm.scripted import ScriptedLLM
    from gba_core.planners import ZeroShotPlanner
    from gba_core.testing import plan_answer
    from gba_core.tools import FunctionTool

    def remind(day: str) -> str:
        """Set a reminder.

        Args:
            day: The day, YYYY-MM-DD.
        """
        return f"reminder on {day}"

    tools = {"remind": FunctionTool(remind), "final_answer": FinalAnswer()}
    llm = ScriptedLLM(
        [plan_answer("remind", "Remind me tomorrow"), {"day": "2027-03-16"},
         plan_answer("final_answer", "Say done"), "Done."]
    )  # fmt: skip
    trajectory = Agent(ZeroShotPlanner(tools, llm), tools).run(
        "Remind me tomorrow", today=date(2027, 3, 15)
    )
    assert trajectory.steps[0].observation == "reminder on 2027-03-16"
    assert "Today is Monday, 2027-03-15." in llm.calls[1].prompt  # the argument filling
    without = ScriptedLLM([{"day": "2027-03-16"}])
    FunctionTool(remind).run("r", "t", [], ToolContext(llm=without))
    assert "Today is" not in without.calls[0].prompt
