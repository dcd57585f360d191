"""The role examples the installed tools ship (data for training their LLM calls) are
right and stay clean: each target is right by its role's own check (a calculation runs
to its value, a command prints what is expected, arguments validate), held-out examples
are not train examples, and no example repeats a benchmark request."""

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from gba_core.registry import load_toolset
from gba_core.roles import role_cases

ROOT = Path(__file__).resolve().parents[2]


def all_cases():
    """Every role's examples, the search roles' too: a search makes those LLM calls only
    with search_answer = "generate", and their examples must be right all the same."""
    before = os.environ.get("GBA_SEARCH_ANSWER")
    os.environ["GBA_SEARCH_ANSWER"] = "generate"
    try:
        return role_cases(load_toolset().real)
    finally:
        if before is None:
            del os.environ["GBA_SEARCH_ANSWER"]
        else:
            os.environ["GBA_SEARCH_ANSWER"] = before


CASES = all_cases()


def test_every_role_of_the_shipped_tools_has_train_and_heldout_examples():
    by_role = Counter((f"{c.tool}/{c.role.name}", c.example.split) for c in CASES)
    roles = {role for role, _ in by_role}
    assert roles >= {
        "calculate_number/calculate",
        "create_event/arguments",
        "send_email/arguments",
        "use_bash/bash",
        "final_answer/final_answer",
        "search_wikipedia/summarize",
        "search_wikipedia/answer",
    }
    for role in roles:
        assert by_role[(role, "train")] >= 4 * by_role[(role, "heldout")] // 2, role
        assert by_role[(role, "heldout")] >= 5, role


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.example.id)
def test_every_target_is_right_by_its_roles_check(case):
    role, example = case.role, case.example
    output = example.target if role.schema is None else role.schema.model_validate(example.target)
    assert role.correct(example, output)


def test_ids_are_unique_and_heldout_prompts_are_not_train_prompts():
    ids = Counter(c.example.id for c in CASES)
    assert [i for i, n in ids.items() if n > 1] == []
    train = {(c.example.request, c.example.task) for c in CASES if c.example.split == "train"}
    held = [c.example.id for c in CASES if c.example.split == "heldout"]
    clash = [
        c.example.id
        for c in CASES
        if c.example.split == "heldout" and (c.example.request, c.example.task) in train
    ]
    assert held and clash == []


def test_no_example_repeats_a_benchmark_request():
    sys.path.insert(0, str(ROOT / "tests" / "core"))
    from test_bench_requests import BENCH, near

    clashes = [
        (c.example.id, bench["id"])
        for c in CASES
        for bench in BENCH
        for text in (c.example.request, c.example.task)
        if text and near(text, bench["request"])
    ]
    assert clashes == []
