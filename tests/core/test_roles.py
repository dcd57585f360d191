"""Tool roles: a role example renders through the role the tool asks with, its target
becomes the completion the model is trained to write, and answers are checked as the
tool would use them."""

import json
from datetime import date

import pytest

from gba_core.errors import InvalidOutputError
from gba_core.llm.scripted import ScriptedLLM
from gba_core.roles import (
    RoleCase,
    RoleExample,
    ToolRole,
    evaluate_roles,
    prompt_completion,
    role_cases,
    same_value,
)
from gba_core.schema import ScratchpadEntry
from gba_core.tools import FunctionTool, ToolContext


def book(title: str, day: date, guests: int = 1) -> str:
    """Book a table.

    Args:
        title: what the booking is for
        day: the day
        guests: how many people
    """
    return f"booked {title} on {day} for {guests}"


TOOL = FunctionTool(book)


def example(**changes) -> RoleExample:
    fields = {
        "id": "x-1",
        "split": "heldout",
        "tool": "book",
        "role": "arguments",
        "today": "2026-11-02",
        "request": "Book dinner for two tomorrow.",
        "task": "Book 'Dinner' on 2026-11-03 for 2 guests.",
        "scratchpad": [{"task": "Ask who comes", "tool": "ask_user", "result": "Ana"}],
        "target": {"title": "Dinner", "day": "2026-11-03", "guests": 2},
    }
    return RoleExample.model_validate({**fields, **changes})


def test_the_training_prompt_is_the_prompt_the_tool_sends():
    ex = example()
    llm = ScriptedLLM([ex.target])
    ctx = ToolContext(llm=llm, today=ex.today)
    TOOL.run(ex.request, ex.task, ex.scratchpad, ctx)
    row = prompt_completion(RoleCase("book", TOOL.role, ex))
    assert [m.model_dump() for m in row.prompt] == llm.calls[0].messages
    assert "Today is Monday, 2026-11-02." in row.prompt[-1].content
    assert 'Result of "Ask who comes": Ana' in row.prompt[-1].content


def test_the_completion_is_compact_json_in_the_schema_order():
    ex = example(target={"guests": 2, "day": "2026-11-03", "title": "Dinner"})
    text = TOOL.role.completion(ex)
    assert text == '{"title": "Dinner", "day": "2026-11-03", "guests": 2}'
    assert TOOL.args_model.model_validate_json(text).day == date(2026, 11, 3)


def test_a_text_role_needs_a_text_target():
    role = ToolRole("answer", "final_answer.j2")
    assert role.completion(example(target="Dinner is booked.")) == "Dinner is booked."
    with pytest.raises(Exception, match="must be text"):
        role.completion(example())


def test_argument_answers_are_checked_field_by_field():
    ex = example()
    right = TOOL.args_model(title="dinner.", day=date(2026, 11, 3), guests=2)
    wrong_day = TOOL.args_model(title="Dinner", day=date(2026, 11, 4), guests=2)
    assert TOOL.role.correct(ex, right)
    assert not TOOL.role.correct(ex, wrong_day)


def test_prose_is_judged_by_its_words_and_tokens_verbatim():
    body = "Hi Ana, the contract is signed and I will send it to you on Monday morning."
    assert same_value(body, "Hello Ana, the contract is signed; I will send it on Monday.")
    assert not same_value(body, "Dinner tomorrow?")
    assert same_value("Picking up the keys", "Pick up the keys next Monday")
    assert not same_value("Dinner", "Lunch")
    assert same_value("ana@example.com", " Ana@Example.com")
    assert not same_value("ana@example.com", "ana@example.org")
    assert not same_value("2026-11-03", "2026-11-04")


def test_expected_patterns_decide_when_given():
    role = ToolRole("answer", "final_answer.j2")
    ex = example(target="Ana comes at 7.", expected=["\\bAna\\b", "7"])
    assert role.correct(ex, "ana will come at 7 pm")
    assert not role.correct(ex, "Ana will come.")


def test_evaluation_counts_wrong_and_invalid_answers():
    ex = example()
    cases = [RoleCase("book", TOOL.role, ex)] * 3
    llm = ScriptedLLM([ex.target, {**ex.target, "guests": 3}, InvalidOutputError("bad", "{")])
    results = evaluate_roles(cases, llm)
    assert [r.correct for r in results] == [True, False, False]
    assert results[2].output.startswith("invalid")
    assert {r.role for r in results} == {"book/arguments"}


def test_the_office_roles_load_their_examples():
    from gba_tools_office.calculate import CalculateNumber
    from gba_tools_office.mail import send_email_tool

    tools = {"calculate_number": CalculateNumber(), "send_email": send_email_tool}
    cases = role_cases(tools, "heldout")
    assert {c.example.tool for c in cases} == {"calculate_number", "send_email"}
    assert all(c.example.split == "heldout" for c in cases)
    # A calculation is right when it computes the value, however it is written.
    calc = next(c for c in cases if c.example.tool == "calculate_number")
    code = calc.role.schema.model_validate({"code": f"result = {calc.example.expected!r}"})
    assert calc.role.correct(calc.example, code)
    wrong = calc.role.schema.model_validate({"code": "result = -12345.678"})
    assert not calc.role.correct(calc.example, wrong)


def test_a_missing_examples_file_is_named():
    role = ToolRole("arguments", "function_tool.j2", examples=("missing.jsonl",))
    with pytest.raises(Exception, match=r"cannot read role examples gba_core/missing\.jsonl"):
        role.load_examples("book")


def test_scratchpad_entries_keep_their_type():
    ex = example()
    assert isinstance(ex.scratchpad[0], ScratchpadEntry)
    assert json.loads(ex.model_dump_json())["today"] == "2026-11-02"
