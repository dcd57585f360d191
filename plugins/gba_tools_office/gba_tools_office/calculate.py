"""calculate_number: the tool LLM writes Python, which runs in gba's sandbox."""

from __future__ import annotations

import json
from numbers import Real
from typing import Any

from pydantic import BaseModel, Field

from gba_core.roles import Output, RoleExample, ToolRole
from gba_core.sandbox import run_python
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext

from .settings import settings

DESCRIPTION = (
    "Compute a number (or a list of numbers) from numbers in the task or in earlier "
    "results: arithmetic, averages, percentages, unit conversions, date differences."
)


class Code(BaseModel):
    code: str = Field(max_length=2000, description="Python code that sets `result`.")


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _tidy(value: Any) -> Any:
    """``value`` without binary floating-point noise: 138.5 - 146.6 is -8.1, not
    -8.099999999999994, which the planner copies into the answer as it stands."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def compute(code: str) -> float | list[float] | str:
    """The number (or list) the code sets as ``result`` in the sandbox, or the error
    text for the planner."""
    outcome = run_python(code, limits=settings().sandbox)
    if not outcome.ok:
        return f"Error: the calculation failed: {outcome.describe_failure()}"
    raw = outcome.files.get("result.json")
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        # The program can write result.json itself, and leave it half-written.
        return "Error: the calculation left an unreadable result"
    numbers = value if isinstance(value, list) else [value]
    if value is None or not numbers or not all(_is_number(v) for v in numbers):
        return "Error: the calculation did not set `result` to a number or list of numbers"
    tidy = [_tidy(v) for v in numbers]
    return tidy if isinstance(value, list) else tidy[0]


def _close(got: object, want: object) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_close, got, want))
    return _is_number(got) and _is_number(want) and abs(got - want) <= 1e-6 * max(1, abs(want))  # type: ignore[operator,arg-type]


def right_value(example: RoleExample, output: Output) -> bool:
    """A calculation is right when its code computes the expected value, however written."""
    return isinstance(output, Code) and _close(compute(output.code), example.expected)


ROLE = ToolRole(
    "calculate",
    "calculate.j2",
    package=__package__,
    schema=Code,
    max_tokens=700,
    examples=("calculate_number.jsonl",),
    check=right_value,
)


class CalculateNumber(Tool):
    name = "calculate_number"
    description = DESCRIPTION
    roles = (ROLE,)

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        code = ROLE.ask(ctx, request=request, task=task, scratchpad=scratchpad).code
        value = compute(code)
        return value if isinstance(value, str) else f"Result: {json.dumps(value)}"
