"""final_answer answers the request: never the planner's instruction, never its prompt."""

from gba_core.default_plugins.final_answer import FinalAnswer, answer_from_task, unusable
from gba_core.llm.scripted import ScriptedLLM
from gba_core.schema import ScratchpadEntry
from gba_core.tools import ToolContext


def test_an_instruction_becomes_the_answer_it_carries():
    assert (
        answer_from_task("Tell the user the Titanic sank in 1912.") == "The Titanic sank in 1912."
    )
    assert answer_from_task("Tell the user that Jaws was directed by Steven Spielberg.") == (
        "Jaws was directed by Steven Spielberg."
    )
    assert answer_from_task("Tell the user they need 4 litres.") == "You need 4 litres."
    assert answer_from_task("Paris is the capital.") == "Paris is the capital."


def test_echoes_and_copied_prompts_are_not_answers():
    task = "Tell the user the Titanic sank in 1912."
    assert unusable("Tell the user the Titanic sank in 1912", task)
    assert unusable('Request: When did it sink?\n\nResult of "search": 1912', task)
    assert unusable("", task)
    assert not unusable("The Titanic sank on 15 April 1912.", task)


def test_a_json_object_is_no_answer_but_braces_in_prose_are():
    task = "Tell the user the plumber is in the calendar for 2027-03-16 at 10:00."
    assert unusable('{"title": "Call with plumber", "date": "2027-03-16"}', task)
    assert unusable(' {"seq": "seq 1 1000 | wc -l"}', task)
    assert not unusable("The set {1, 2, 3} has 3 members.", task)
    assert not unusable("[1, 2, 3]", task)


def run(reply):
    llm = ScriptedLLM([reply])
    scratchpad = [ScratchpadEntry(task="When did the Titanic sink?", tool="search", result="1912")]
    task = "Tell the user the Titanic sank in 1912."
    return FinalAnswer().run("When did the Titanic sink?", task, scratchpad, ToolContext(llm=llm))


def test_final_answer_keeps_a_real_answer_and_replaces_an_echo():
    assert run("Answer: It sank on 15 April 1912.") == "It sank on 15 April 1912."
    assert run("Tell the user the Titanic sank in 1912.") == "The Titanic sank in 1912."
    assert run('Request: When did the Titanic sink?\nResult of "x": 1912') == (
        "The Titanic sank in 1912."
    )
    assert run('{"date": "1912-04-15"}') == "The Titanic sank in 1912."
