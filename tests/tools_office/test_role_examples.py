"""The office tools' role examples (data for training their LLM roles) are right: every
calculation runs in the sandbox to its expected value, every argument set validates
against the tool's own argument model."""

import json
from pathlib import Path

import pytest

from gba_core.sandbox import run_python
from gba_tools_office.calendar import create_event_tool
from gba_tools_office.mail import send_email_tool
from gba_tools_office.settings import settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "plugins" / "gba_tools_office" / "gba_tools_office" / "role_examples"
PRELUDE = "import math, statistics, datetime\n"


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / name).read_text().splitlines() if line]


CALC = rows("calculate_number.jsonl")
ARGS = rows("function_arguments.jsonl")


def test_every_calculation_gives_its_expected_value():
    wrong = []
    for row in CALC:
        outcome = run_python(PRELUDE + row["target"]["code"], limits=settings().sandbox)
        value = json.loads(outcome.files.get("result.json") or "null")
        expected = row["expected"]
        if isinstance(expected, list):
            ok = isinstance(value, list) and len(value) == len(expected)
            ok = ok and all(abs(a - b) < 1e-6 for a, b in zip(value, expected, strict=True))
        else:
            ok = isinstance(value, int | float) and abs(value - expected) < 1e-6
        if not ok:
            wrong.append((row["id"], value, expected))
    assert not wrong, wrong
    assert len(CALC) >= 70


@pytest.mark.parametrize("row", ARGS, ids=lambda row: row["id"])
def test_every_argument_set_validates_and_names_a_real_address(row):
    tool = {"send_email": send_email_tool, "create_event": create_event_tool}[row["tool"]]
    arguments = tool.args_model.model_validate(row["target"])
    if row["tool"] == "send_email":
        assert arguments.recipient in row["task"]


def test_role_examples_have_both_splits():
    # Their distance from the benchmark is checked with every role's examples in
    # tests/core/test_bench_requests.py.
    splits = {row["split"] for row in CALC + ARGS}
    assert splits == {"train", "heldout"}
